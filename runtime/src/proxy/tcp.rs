//! The opaque TCP relay, used for `tcp` and for every protocol without a parsing plugin.
//!
//! Bytes are not interpreted, with one exception Faultbox's `tcp` plugin also makes: a rule's
//! `method` matcher is a byte prefix of the consumer's first chunk (`method="PING"` matches a
//! connection whose first bytes are `PING\r\n`). So rules apply once per connection:
//! * rules without matchers on connect: `delay` holds the relay (both directions) for its
//!   duration before the first byte moves, `drop` and `error` close the consumer's connection
//!   at once, `respond` writes its body to the consumer and closes (the upstream is never
//!   dialled);
//! * rules with a `method` matcher on the consumer's first chunk, which is held until they are
//!   decided: `delay` forwards it late, `drop` and `error` close both connections, `respond`
//!   answers its body instead of the upstream and closes, `duplicate` forwards it twice. While
//!   the consumer has not spoken, whatever the upstream sends first (a banner) is relayed.
//!
//! Matchers on any other field never match: an opaque stream has no such field.

use std::sync::Arc;
use std::time::Duration;

use ospecc_schema::plan::topology::{Matcher, ProxyAction};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Ctx, Fired, Gated};

/// The most bytes of the first chunk a `method` prefix is compared with (and an event shows).
const PREFIX_BYTES: usize = 256;

/// What a fired rule leaves the relay to do.
enum Next {
    /// Close the consumer's connection now.
    Close,
    /// Relay, after an optional delay, sending the held chunk `copies` times.
    Relay { delay: Option<Duration>, copies: usize },
}

pub(super) async fn serve(ctx: Arc<Ctx>, mut client: Gated) {
    let on_connect = if ctx.rules.is_empty() { None } else { ctx.rules.first_firing(|rule| rule.matchers.is_empty()) };
    let delay = match on_connect {
        Some(active) => match act(&ctx, &active, &mut client, None).await {
            Next::Close => return,
            Next::Relay { delay, .. } => delay,
        },
        None => None,
    };
    let Ok(mut upstream) = ctx.connect_upstream().await else { return };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let prefix_rules = ctx.rules.snapshot().iter().any(|active| !active.rule.matchers.is_empty());
    if prefix_rules && !first_chunk(&ctx, &mut client, &mut upstream).await {
        return;
    }
    // Ends at EOF both ways or the first error (a reset on either side closes the other).
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

/// Reads the consumer's first chunk (relaying what the upstream says first), decides the
/// `method` rules on it and forwards it; false when the connection is to close.
async fn first_chunk(ctx: &Ctx, client: &mut Gated, upstream: &mut Gated) -> bool {
    let mut chunk = vec![0u8; 16 * 1024];
    let mut banner = vec![0u8; 16 * 1024];
    let n = loop {
        tokio::select! {
            read = client.read(&mut chunk) => match read {
                Ok(n) if n > 0 => break n,
                _ => return false,
            },
            read = upstream.read(&mut banner) => match read {
                Ok(n) if n > 0 => if client.write_all(&banner[..n]).await.is_err() { return false },
                _ => return false,
            },
        }
    };
    let chunk = &chunk[..n];
    let prefix = String::from_utf8_lossy(&chunk[..n.min(PREFIX_BYTES)]).into_owned();
    let fired = ctx.rules.first_firing(|rule| {
        !rule.matchers.is_empty() && ctx.globs.matches_all(&as_prefixes(&rule.matchers), &[("method", &prefix)])
    });
    let (delay, copies) = match fired {
        None => (None, 1),
        Some(active) => match act(ctx, &active, client, Some(&prefix)).await {
            Next::Close => return false,
            Next::Relay { delay, copies } => (delay, copies),
        },
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    for _ in 0..copies {
        if upstream.write_all(chunk).await.is_err() {
            return false;
        }
    }
    true
}

/// A `method` glob matches a prefix of the chunk, so it gets a trailing `*`.
fn as_prefixes(matchers: &[Matcher]) -> Vec<Matcher> {
    matchers
        .iter()
        .map(|m| match m.field == "method" && !m.glob.ends_with('*') {
            true => Matcher { field: m.field.clone(), glob: format!("{}*", m.glob) },
            false => m.clone(),
        })
        .collect()
}

/// Records the fired rule and does what it can do alone (answer, close).
async fn act(ctx: &Ctx, active: &Fired, client: &mut Gated, method: Option<&str>) -> Next {
    let data = method.map(|m| vec![("method", m.trim_end().into())]).unwrap_or_default();
    ctx.fired(active, data);
    match &active.rule.action {
        ProxyAction::Drop | ProxyAction::Error { .. } => Next::Close,
        ProxyAction::Respond { body, .. } => {
            let _ = client.write_all(body.as_deref().unwrap_or_default().as_bytes()).await;
            let _ = client.shutdown().await;
            Next::Close
        }
        ProxyAction::Delay { ms } => Next::Relay { delay: Some(Duration::from_millis(*ms)), copies: 1 },
        ProxyAction::Duplicate => Next::Relay { delay: None, copies: if method.is_some() { 2 } else { 1 } },
    }
}
