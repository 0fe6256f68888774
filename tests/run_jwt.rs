//! `ospecc run` with the JWT builtins: a test signs a token with the key pair a mock publishes
//! and fetches that mock's JWKS over HTTP. The expected token and JWKS are computed here through
//! the compiler and verified with `jsonwebtoken`; the run then proves the runtime signs with the
//! same key and serves the same JWKS (the key is derived from the kid, at load and at run).

mod common;

use std::path::Path;
use std::time::Duration;

use common::{ospecc_with, repo_root};
use ospecc_compiler::topology::{evaluate, Arg, Limits, TopologyInput};
use ospecc_compiler::vfs::MemoryFs;

const CLAIMS: &str = r#"{"sub": "user-42", "iss": "https://auth.test", "exp": 4102444800}"#;

/// The token and JWKS the compiler computes for kid `k1` and [`CLAIMS`].
fn expected() -> (String, serde_json::Value) {
    let text =
        format!("kp = jwt_keypair(kid = \"k1\")\nTOKEN = jwt_sign(kp, claims = {CLAIMS})\nJWKS = jwt_jwks(kp)\n");
    let path = Path::new("/ws/spec.star");
    let fs = MemoryFs::default().with_file(path, text.clone());
    let input = TopologyInput { path, text: &text, fs: &fs, root: Path::new("/ws"), limits: Limits::default() };
    let evaluated = evaluate(&input);
    let global = |name: &str| evaluated.globals.iter().find(|g| g.name == name).map(|g| g.value.clone());
    let Some(Arg::Str(token)) = global("TOKEN") else { panic!("no token: {:?}", evaluated.diagnostics) };
    let jwks = global("JWKS").expect("a JWKS").to_json();
    (token, jwks)
}

#[test]
fn a_test_signs_a_token_that_verifies_against_the_jwks_its_mock_serves() {
    let (token, jwks) = expected();
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks.clone()).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(set.find("k1").unwrap()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_issuer(&["https://auth.test"]);
    let claims = jsonwebtoken::decode::<serde_json::Value>(&token, &key, &validation).unwrap().claims;
    assert_eq!(claims["sub"], "user-42");
    let x = jwks["keys"][0]["x"].as_str().unwrap();

    let spec = format!(
        r#"
kp = jwt_keypair(kid = "k1")
auth = mock_service("auth", interface("main", "http", 21530),
    routes = {{"GET /.well-known/jwks.json": json_response(body = jwt_jwks(keypair = kp))}})
sign = lambda claims = {{}}: jwt_sign(keypair = kp, claims = claims)

def test_sign_and_fetch_jwks():
    token = sign(claims = {CLAIMS})
    assert_eq(token, "{token}")
    assert_eq(len(token.split(".")), 3)
    resp = auth.main.get(path = "/.well-known/jwks.json")
    assert_eq(resp.status, 200)
    key = resp.data["keys"][0]
    assert_eq(key["kid"], "k1")
    assert_eq(key["alg"], "EdDSA")
    assert_eq(key["x"], "{x}")
"#
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("jwt.star");
    std::fs::write(&file, spec).unwrap();
    let file = file.to_str().unwrap();
    let check = ospecc_with(&repo_root(), &["check", file], None, &[], Duration::from_secs(60));
    check.no_panic();
    assert_eq!(check.code, Some(0), "{}", check.text());
    let run = ospecc_with(&repo_root(), &["run", file, "--format", "json"], None, &[], Duration::from_secs(120));
    run.no_panic();
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.text()));
    let result = &report["results"][0];
    assert_eq!(result["name"], "test_sign_and_fetch_jwks", "{report:#}");
    assert_eq!(result["outcome"], "passed", "{report:#}");
    assert_eq!(run.code, Some(0), "{}", run.text());
}
