//! The opaque TCP relay, used for `tcp` and for every protocol without a parsing plugin.
//!
//! Bytes are not interpreted, so only rules without matchers can apply, and they apply once per
//! connection, on connect: `delay` holds the relay (both directions) for its duration before the
//! first byte moves, `drop` and `error` close the consumer's connection at once, `respond`
//! writes its body to the consumer and closes (the upstream is never dialled). `duplicate` has
//! no meaning for an opaque stream and relays unchanged. A rule with matchers never fires here.

use std::sync::Arc;
use std::time::Duration;

use ospecc_schema::plan::topology::ProxyAction;
use tokio::io::AsyncWriteExt;

use super::{Ctx, Gated};

pub(super) async fn serve(ctx: Arc<Ctx>, mut client: Gated) {
    let mut delay = None;
    let fired = if ctx.rules.is_empty() { None } else { ctx.rules.first_firing(|rule| rule.matchers.is_empty()) };
    if let Some(active) = fired {
        ctx.fired(&active, Vec::new());
        match &active.rule.action {
            ProxyAction::Drop | ProxyAction::Error { .. } => return,
            ProxyAction::Respond { body, .. } => {
                let _ = client.write_all(body.as_deref().unwrap_or_default().as_bytes()).await;
                let _ = client.shutdown().await;
                return;
            }
            ProxyAction::Delay { ms } => delay = Some(Duration::from_millis(*ms)),
            ProxyAction::Duplicate => {}
        }
    }
    let Ok(mut upstream) = ctx.connect_upstream().await else { return };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    // Ends at EOF both ways or the first error (a reset on either side closes the other).
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}
