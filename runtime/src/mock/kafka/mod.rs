//! The Kafka mock: an in-process single-node broker (node 0 at 127.0.0.1 and the port the
//! connection came in on) that real clients (librdkafka's kcat, the step client) produce to,
//! fetch from and join consumer groups on. The wire format is `kafka-protocol`'s generated
//! codecs; this module frames requests, checks each API's version against [`APIS`] (the
//! versions it advertises in ApiVersions) and dispatches to [`apis`]. State ([`log`] topics,
//! [`group`] coordinator) is per mock and shared by its connections; `config` seeds it
//! ([`seed`]).
//!
//! Requests on one connection are answered in order, as a broker does. Events: one
//! `mock_request` per request (`interface`, `api`, `version`, and `topic` / `group` when the
//! request names one); a frame that is not a Kafka request (unknown API or version, a body
//! that does not decode, a length out of range, a connection closed mid-frame) is one
//! `mock_error` and closes that connection.

mod apis;
pub(crate) mod client;
mod group;
pub(crate) mod guard;
mod log;
mod seed;
pub(crate) mod wire;

pub(crate) use log::now_ms;

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::ApiKey;
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::{stopped, MockContext, ProtocolMock, Serving};
use crate::events::EventLog;

/// Every API served, with the versions advertised: the versions librdkafka 2.x and the Java
/// client negotiate, within what `kafka-protocol` decodes. Fetch stops at 12 and Metadata at
/// 12, before topic ids replace topic names.
pub(crate) const APIS: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 3, 9),
    (ApiKey::Fetch, 4, 12),
    (ApiKey::ListOffsets, 1, 7),
    (ApiKey::Metadata, 0, 12),
    (ApiKey::OffsetCommit, 2, 8),
    (ApiKey::OffsetFetch, 1, 7),
    (ApiKey::FindCoordinator, 0, 4),
    (ApiKey::JoinGroup, 0, 7),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 4),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::ApiVersions, 0, 3),
    (ApiKey::InitProducerId, 0, 4),
];

pub fn build(cx: MockContext) -> Result<Arc<dyn ProtocolMock>, String> {
    let logs = seed::logs(&cx.config)?;
    Ok(Arc::new(Broker {
        service: cx.service,
        interface: cx.interface,
        events: cx.events,
        logs,
        groups: group::Coordinator::new(),
        next_producer: std::sync::atomic::AtomicI64::new(1000),
    }))
}

/// One mock broker's state.
pub(crate) struct Broker {
    service: String,
    interface: String,
    events: EventLog,
    logs: log::Logs,
    groups: group::Coordinator,
    next_producer: std::sync::atomic::AtomicI64,
}

impl ProtocolMock for Broker {
    fn serve(self: Arc<Self>, stream: TcpStream, mut stop: watch::Receiver<bool>) -> Serving {
        Box::pin(async move {
            tokio::select! {
                result = self.connection(stream) => {
                    if let Err(error) = result {
                        self.error(&error);
                    }
                }
                _ = stopped(&mut stop) => {}
            }
        })
    }
}

/// What a handled request tells the event log.
#[derive(Default)]
pub(crate) struct Note {
    pub topic: Option<String>,
    pub group: Option<String>,
}

impl Broker {
    /// Serves requests until the peer closes; `Err` is a protocol error (the connection ends).
    async fn connection(&self, mut stream: TcpStream) -> Result<(), String> {
        let port = stream.local_addr().map(|a| a.port()).unwrap_or_default();
        loop {
            let Some(body) = wire::read_frame(&mut stream, "the client").await? else { return Ok(()) };
            if let Some(reply) = self.handle(body, port).await? {
                if stream.write_all(&reply).await.is_err() {
                    return Ok(());
                }
            }
        }
    }

    /// Answers one request frame; `None` when the request wants no answer (acks=0).
    async fn handle(&self, body: Bytes, port: u16) -> Result<Option<BytesMut>, String> {
        let (key, version, correlation) = wire::peek_header(&body).ok_or("a frame shorter than a request header")?;
        let api = ApiKey::try_from(key).map_err(|_| format!("an unknown API key {key}"))?;
        let Some(&(_, min, max)) = APIS.iter().find(|(k, _, _)| *k == api) else {
            return Err(format!("API {api:?} (key {key}) is not served by this mock"));
        };
        if !(min..=max).contains(&version) && api != ApiKey::ApiVersions {
            return Err(format!("{api:?} version {version} is not supported (versions {min} to {max})"));
        }
        let mut body = body;
        let (reply, note) = apis::dispatch(self, api, version, correlation, &mut body, port)
            .await
            .map_err(|e| format!("{api:?} v{version}: {e}"))?;
        self.request(api, version, note);
        Ok(reply)
    }

    fn request(&self, api: ApiKey, version: i16, note: Note) {
        let mut fields = BTreeMap::new();
        fields.insert("interface".to_owned(), json!(self.interface));
        fields.insert("api".to_owned(), json!(wire::api_name(api)));
        fields.insert("version".to_owned(), json!(version));
        if let Some(topic) = note.topic {
            fields.insert("topic".to_owned(), json!(topic));
        }
        if let Some(group) = note.group {
            fields.insert("group".to_owned(), json!(group));
        }
        self.events.push(&self.service, "mock_request", fields);
    }

    fn error(&self, error: &str) {
        let mut fields = BTreeMap::new();
        fields.insert("interface".to_owned(), json!(self.interface));
        fields.insert("error".to_owned(), json!(error));
        self.events.push(&self.service, "mock_error", fields);
    }
}
