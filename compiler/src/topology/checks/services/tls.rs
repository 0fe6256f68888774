//! `tls_cert` material (reference §8.1 item 9, enforced by Faultbox at load): certificates and
//! keys come in pairs, and `ca=` and `insecure=True` exclude each other. Also flags TLS set on
//! an interface whose proxy does not terminate TLS (Faultbox only emits `proxy_tls_pending`).
//!
//! Whether the files exist is not checked here: the checks have no file system (the
//! evaluation's sandbox does, but it does not keep it for them).

use ospecc_schema::topology::{builtins, catalog};

use super::{protocol, Cx};
use crate::diagnostics::Diagnostic;
use crate::topology::values::{Arg, Recorded};

/// Keywords that must be given together.
const PAIRS: &[(&str, &str)] = &[("proxy_cert", "proxy_key"), ("client_cert", "client_key")];

pub(super) fn check(cx: &Cx, out: &mut Vec<Diagnostic>) {
    for cert in cx.root_calls(builtins::TLS_CERT) {
        pairs(cx, cert, out);
        exclusive(cx, cert, out);
    }
    for iface in cx.root_calls(builtins::INTERFACE) {
        unsupported(cx, iface, out);
    }
}

fn given(cert: &Recorded, name: &str) -> bool {
    cert.named(name).is_some_and(|a| *a != Arg::None)
}

fn pairs(cx: &Cx, cert: &Recorded, out: &mut Vec<Diagnostic>) {
    for &(a, b) in PAIRS {
        for (present, missing) in [(a, b), (b, a)] {
            if !given(cert, present) || given(cert, missing) {
                continue;
            }
            let Some(at) = cx.keyword(cert, present) else { continue };
            out.push(
                Diagnostic::error("TOP106", at, format!("`tls_cert` has `{present}=` without `{missing}=`"))
                    .with_help(format!("a certificate and its key go together: add `{missing}=\"path\"` (relative to the spec's directory), or remove `{present}=`")),
            );
        }
    }
}

fn exclusive(cx: &Cx, cert: &Recorded, out: &mut Vec<Diagnostic>) {
    if !given(cert, "ca") || cert.named("insecure") != Some(&Arg::Bool(true)) {
        return;
    }
    let Some(at) = cx.keyword(cert, "insecure") else { return };
    let mut d = Diagnostic::error("TOP107", at, "`tls_cert` has both `ca=` and `insecure=True`")
        .with_help("`ca=` verifies the upstream against a CA, `insecure=True` skips verification: keep one");
    if let Some(ca) = cx.keyword(cert, "ca") {
        d = d.with_label(ca, "`ca=` given here");
    }
    out.push(d);
}

/// TLS on an interface whose protocol's proxy cannot terminate it.
fn unsupported(cx: &Cx, iface: &Recorded, out: &mut Vec<Diagnostic>) {
    let Some(Arg::Record(cert)) = iface.named("tls").or_else(|| iface.positional.get(4)) else { return };
    if cert.ty != "tls_cert" {
        return;
    }
    let Some(proto) = protocol(iface) else { return };
    // Protocols whose proxies terminate TLS (reference §3.1, catalog `tls_proxy`); the
    // others defer it.
    if catalog().protocol(proto).is_none_or(|p| p.tls_proxy) {
        return;
    }
    let terminating: Vec<&str> = catalog().protocols.iter().filter(|p| p.tls_proxy).map(|p| p.name.as_str()).collect();
    let Some(at) = cx.keyword(iface, "tls").or_else(|| cx.positional(iface, 4)) else { return };
    out.push(
        Diagnostic::warning(
            "TOP108",
            at,
            format!("the `{proto}` proxy does not terminate TLS yet: `tls=` on interface `{}` has no effect", iface.name().unwrap_or("?")),
        )
        .with_help(format!(
            "remove `tls=`: Faultbox only reports `proxy_tls_pending` for `{proto}` (TLS-terminating proxies exist for {})",
            super::listing(&terminating)
        )),
    );
}
