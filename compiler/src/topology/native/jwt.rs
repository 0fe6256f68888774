//! `jwt_sign` and `jwt_jwks`: EdDSA (Ed25519) compact JWS tokens and the JWKS that verifies
//! them, as Faultbox's JWT mock issues them (header `alg`, `kid`, `typ`; claims verbatim, no
//! default `iat`/`exp`/`iss`; one OKP key per JWKS).
//!
//! Faultbox draws a fresh random key pair per run. Here a key pair is derived from its `kid`
//! alone, so that evaluating a spec at load (the plan's JWKS route body) and again while a test
//! runs (`auth.sign(...)`) yields the same key, and two builds of a plan are byte-identical.
//! These are test keys: anyone who knows the kid can sign, so they must never guard anything
//! real.

use anyhow::{anyhow, bail, Context};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{json, Map, Value as Json};
use sha2::{Digest, Sha256};
use starlark::values::{Heap, Value};

use super::argument;
use crate::topology::run::Args;
use crate::topology::values::{recorded_of, Arg};

/// The kid of `jwt_keypair()` called without one (Faultbox's default).
const DEFAULT_KID: &str = "faultbox-mock-key";

/// Domain separation for the derivation: a kid's test key is SHA-256 of this and the kid.
const KEY_DOMAIN: &[u8] = b"ospecc jwt_keypair test key v1\0";

/// A key pair as the `jwt_*` builtins use it.
struct Keypair {
    kid: String,
    key: SigningKey,
}

impl Keypair {
    /// The test key pair of `kid`.
    fn derive(kid: &str) -> Keypair {
        let seed: [u8; 32] = Sha256::new().chain_update(KEY_DOMAIN).chain_update(kid.as_bytes()).finalize().into();
        Keypair { kid: kid.to_owned(), key: SigningKey::from_bytes(&seed) }
    }

    /// The key pair a `jwt_keypair(...)` value stands for.
    fn of(value: Value, builtin: &str) -> anyhow::Result<Keypair> {
        let record = recorded_of(value)
            .filter(|r| r.ty == "keypair")
            .ok_or_else(|| anyhow!("{builtin}: keypair must be a jwt_keypair value (got {})", value.get_type()))?;
        match record.positional.first().or_else(|| record.named("kid")) {
            None | Some(Arg::None) => Ok(Keypair::derive(DEFAULT_KID)),
            Some(Arg::Str(kid)) => Ok(Keypair::derive(kid)),
            Some(other) => {
                bail!("{builtin}: the keypair's kid must be a string (got {})", other.type_name().unwrap_or("a value"))
            }
        }
    }

    /// The compact JWS (`header.claims.signature`) of `claims`.
    fn sign(&self, claims: &Json) -> anyhow::Result<String> {
        let header = json!({"alg": "EdDSA", "kid": self.kid, "typ": "JWT"});
        let input = format!("{}.{}", encode_json(&header)?, encode_json(claims)?);
        let signature = self.key.sign(input.as_bytes());
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes())))
    }

    /// The JWKS document (`{"keys": [jwk]}`, RFC 8037 OKP key).
    fn jwks(&self) -> Json {
        let x = URL_SAFE_NO_PAD.encode(self.key.verifying_key().as_bytes());
        json!({"keys": [{"alg": "EdDSA", "crv": "Ed25519", "kid": self.kid, "kty": "OKP", "use": "sig", "x": x}]})
    }
}

fn encode_json(value: &Json) -> anyhow::Result<String> {
    Ok(URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).context("cannot encode the JWT")?))
}

/// Object keys sorted at every level, as Faultbox's encoder writes them: the token of the same
/// claims is the same bytes whatever order the dict was written in.
fn sorted(value: Json) -> Json {
    match value {
        Json::Object(map) => {
            let mut entries: Vec<(String, Json)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Json::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect::<Map<_, _>>())
        }
        Json::Array(items) => Json::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// `jwt_sign(keypair, claims={})`: a compact JWS string.
pub(super) fn sign<'v>(args: &Args<'v>, heap: Heap<'v>) -> anyhow::Result<Value<'v>> {
    let keypair = argument(args, 0, "keypair").ok_or_else(|| anyhow!("jwt_sign: missing the keypair argument"))?;
    let keypair = Keypair::of(keypair, "jwt_sign")?;
    let claims = match argument(args, 1, "claims") {
        None => Json::Object(Map::new()),
        Some(v) if v.is_none() => Json::Object(Map::new()),
        Some(v) => {
            let json = v.to_json_value().map_err(|e| anyhow!("jwt_sign: claims must be JSON values: {e}"))?;
            if !json.is_object() {
                bail!("jwt_sign: claims must be a string-keyed dict (got {})", v.get_type());
            }
            sorted(json)
        }
    };
    Ok(heap.alloc(keypair.sign(&claims)?))
}

/// `jwt_jwks(keypair)`: the JWKS document as a dict.
pub(super) fn jwks<'v>(args: &Args<'v>, heap: Heap<'v>) -> anyhow::Result<Value<'v>> {
    let keypair = argument(args, 0, "keypair").ok_or_else(|| anyhow!("jwt_jwks: missing the keypair argument"))?;
    Ok(heap.alloc(Keypair::of(keypair, "jwt_jwks")?.jwks()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Json {
        json!({"sub": "user-42", "iss": "https://auth.test", "exp": 4_102_444_800_i64, "scope": "read"})
    }

    #[test]
    fn a_token_verifies_against_the_jwks_of_its_key_pair() {
        let keypair = Keypair::derive("k1");
        let token = keypair.sign(&sorted(claims())).unwrap();
        let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_value(keypair.jwks()).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
        assert_eq!(header.kid.as_deref(), Some("k1"));
        let jwk = jwks.find("k1").unwrap();
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
        validation.set_issuer(&["https://auth.test"]);
        let data = jsonwebtoken::decode::<Json>(&token, &key, &validation).unwrap();
        assert_eq!(data.claims, claims());
    }

    #[test]
    fn a_token_does_not_verify_against_another_kids_key() {
        let token = Keypair::derive("k1").sign(&claims()).unwrap();
        let other: jsonwebtoken::jwk::JwkSet = serde_json::from_value(Keypair::derive("k2").jwks()).unwrap();
        let key = jsonwebtoken::DecodingKey::from_jwk(&other.keys[0]).unwrap();
        let validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
        assert!(jsonwebtoken::decode::<Json>(&token, &key, &validation).is_err());
    }

    #[test]
    fn keys_are_derived_from_the_kid_alone() {
        assert_eq!(Keypair::derive("k1").jwks(), Keypair::derive("k1").jwks());
        assert_ne!(Keypair::derive("k1").jwks()["keys"][0]["x"], Keypair::derive("k2").jwks()["keys"][0]["x"]);
        assert_eq!(Keypair::derive("k1").sign(&claims()).unwrap(), Keypair::derive("k1").sign(&claims()).unwrap());
    }

    #[test]
    fn claims_are_written_with_sorted_keys() {
        let token = Keypair::derive("k1").sign(&sorted(json!({"z": 1, "a": {"y": 2, "b": 3}}))).unwrap();
        let body = token.split('.').nth(1).unwrap();
        let decoded = URL_SAFE_NO_PAD.decode(body).unwrap();
        assert_eq!(String::from_utf8(decoded).unwrap(), r#"{"a":{"b":3,"y":2},"z":1}"#);
    }
}
