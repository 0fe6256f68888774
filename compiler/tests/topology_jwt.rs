//! The `jwt_*` builtins compute real values: a JWKS route body lowered into the plan (the
//! same bytes on every build), a token signed at load that verifies against that JWKS with
//! `jsonwebtoken`, and the same key when a test body signs in run mode.

use std::path::Path;

use ospecc_compiler::plan::{self, PlanInput, PlanOptions};
use ospecc_compiler::topology::run::{self, Args, CallLimits, Runner};
use ospecc_compiler::topology::{Limits, Recorded};
use ospecc_compiler::vfs::MemoryFs;
use ospecc_compiler::Severity;
use ospecc_schema::plan::topology::{Launch, MockResponse};
use ospecc_schema::plan::Plan;
use ospecc_schema::topology::Builtin;
use starlark::eval::Evaluator;
use starlark::values::Value;

const SPEC: &str = r#"
kp = jwt_keypair(kid = "k1")
jwks = jwt_jwks(kp)
TOKEN = jwt_sign(keypair = kp, claims = {"sub": "user-42", "iss": "https://auth.test", "exp": 4102444800})

auth = mock_service("auth", interface("main", "http", 21510),
    routes = {"GET /.well-known/jwks.json": json_response(body = jwks)},
)

def test_sign():
    return jwt_sign(kp, claims = {"sub": "user-42", "iss": "https://auth.test", "exp": 4102444800})
"#;

fn build() -> (Plan, String) {
    let path = Path::new("/ws/spec.star");
    let fs = MemoryFs::default().with_file(path, SPEC);
    let options = PlanOptions::default();
    let input = PlanInput { path, text: SPEC, fs: &fs, root: Path::new("/ws"), options: &options };
    let built = plan::build(&input);
    let errors: Vec<_> = built.diagnostics.iter().filter(|d| d.severity == Severity::Error).collect();
    let plan = built.plan.unwrap_or_else(|| panic!("no plan: {errors:#?}"));
    let json = serde_json::to_string_pretty(&plan).unwrap();
    (plan, json)
}

fn jwks_of(plan: &Plan) -> serde_json::Value {
    let auth = plan.services.iter().find(|s| s.name == "auth").unwrap();
    let Launch::Mock { routes, .. } = &auth.launch else { panic!("auth is a mock") };
    let route = routes.iter().find(|r| r.key == "GET /.well-known/jwks.json").unwrap();
    let MockResponse::Json { body, .. } = &route.response else { panic!("a JSON response: {route:?}") };
    body.clone()
}

fn verify(token: &str, jwks: &serde_json::Value) -> serde_json::Value {
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks.clone()).unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
    let jwk = set.find(header.kid.as_deref().unwrap()).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_issuer(&["https://auth.test"]);
    jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation).unwrap().claims
}

#[test]
fn the_plan_carries_the_jwks_and_is_the_same_bytes_on_every_build() {
    let (plan, first) = build();
    let (_, second) = build();
    assert_eq!(first, second);
    let jwks = jwks_of(&plan);
    let key = &jwks["keys"][0];
    assert_eq!(
        (key["kty"].as_str(), key["crv"].as_str(), key["alg"].as_str()),
        (Some("OKP"), Some("Ed25519"), Some("EdDSA"))
    );
    assert_eq!(key["kid"], "k1");
    assert_eq!(key["x"].as_str().map(str::len), Some(43), "32 bytes, base64url without padding");
}

/// Starts no step and answers no builtin: `jwt_sign` must not need the runner.
struct NoRunner;

impl Runner for NoRunner {
    fn builtin<'v>(
        &self,
        _: &'static Builtin,
        _: &Args<'v>,
        _: &mut Evaluator<'v, '_, '_>,
    ) -> Option<anyhow::Result<Value<'v>>> {
        None
    }

    fn step<'v>(
        &self,
        _: &Recorded,
        _: &str,
        _: &Args<'v>,
        _: &mut Evaluator<'v, '_, '_>,
    ) -> anyhow::Result<Value<'v>> {
        anyhow::bail!("no steps here")
    }
}

#[test]
fn a_token_signed_at_load_and_one_signed_in_a_test_verify_against_the_plans_jwks() {
    let (plan, _) = build();
    let jwks = jwks_of(&plan);
    let loaded = run::load(&plan.root, &plan.sources, Limits::default()).unwrap();
    let at_load = loaded.evaluated.globals.iter().find(|g| g.name == "TOKEN").unwrap();
    let at_load = at_load.value.as_str().unwrap().to_owned();
    let claims = verify(&at_load, &jwks);
    assert_eq!(claims["sub"], "user-42");
    let test = plan.tests.iter().find(|t| t.name == "test_sign").unwrap();
    let callable = loaded.callable(&test.body.id).unwrap();
    let limits =
        CallLimits { deadline: std::time::Instant::now() + std::time::Duration::from_secs(10), max_call_depth: 50 };
    let in_test = loaded.with_evaluator(&NoRunner, limits, |eval| {
        eval.eval_function(callable.to_value(), &[], &[]).map(|v| v.unpack_str().map(str::to_owned))
    });
    let in_test = in_test.unwrap().expect("a string");
    assert_eq!(verify(&in_test, &jwks), claims);
    assert_eq!(in_test, at_load, "Ed25519 is deterministic and the key is the kid's");
}

#[test]
fn a_value_that_is_not_a_keypair_is_a_located_error_at_load() {
    let text = "t = jwt_sign(\"k1\")\n";
    let path = Path::new("/ws/spec.star");
    let fs = MemoryFs::default().with_file(path, text);
    let input = ospecc_compiler::topology::TopologyInput {
        path,
        text,
        fs: &fs,
        root: Path::new("/ws"),
        limits: Limits::default(),
    };
    let found = ospecc_compiler::topology::check(&input);
    let error = found.iter().find(|d| d.severity == Severity::Error).unwrap_or_else(|| panic!("{found:#?}"));
    assert!(error.message.contains("jwt_keypair"), "{error:?}");
    assert_eq!(&text[error.span.start..error.span.end], "jwt_sign(\"k1\")");
}
