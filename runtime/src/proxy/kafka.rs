//! The Kafka plugin: length-prefixed request frames, with rules on Produce and Fetch requests
//! matched by `topic` (each topic the request names; `api` is `produce` or `fetch`):
//! * `error(message=)` answers the request itself, every partition with a Kafka error code:
//!   the number in the message when it names one (`"... (error code 6) ..."`), else
//!   UNKNOWN_SERVER_ERROR (-1); an acks=0 produce gets no answer (the message is lost);
//! * `delay(ms)` holds the request, then forwards it;
//! * `drop` closes the consumer's connection;
//! * `duplicate` forwards a Produce twice and relays the first answer (a Fetch is not
//!   duplicated: the rule does not apply to it).
//!
//! Requests are relayed one at a time, each with its answer, as a broker serves a connection.
//! Metadata and FindCoordinator answers that name the upstream broker are rewritten to name
//! this proxy, so that clients keep talking through it after bootstrapping (otherwise they
//! would connect to the advertised broker directly and no rule would see their produces).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{
    ApiKey, FetchRequest, FetchResponse, FindCoordinatorRequest, MetadataRequest, ProduceRequest, ProduceResponse,
};
use kafka_protocol::protocol::{decode_request_header_from_buffer, Decodable, Message, StrBytes, VersionRange};
use ospecc_schema::plan::topology::ProxyAction;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use super::{Ctx, Fired, Gated};
use crate::mock::kafka::{guard, wire};

/// UNKNOWN_SERVER_ERROR: the code of an `error()` whose message names none.
const UNKNOWN_SERVER_ERROR: i16 = -1;

pub(super) async fn serve(ctx: Arc<Ctx>, client: Gated) {
    let advertised = client.stream.local_addr().ok();
    let Ok(upstream) = ctx.connect_upstream().await else { return };
    let mut session = Session { ctx, client, upstream, advertised };
    if let Err(error) = session.run().await {
        session.ctx.error(error);
    }
}

struct Session {
    ctx: Arc<Ctx>,
    client: Gated,
    upstream: Gated,
    /// This proxy's address as the consumer sees it (what rewritten metadata advertises).
    advertised: Option<SocketAddr>,
}

/// A request frame and what the rules need from it.
struct Request {
    frame: Bytes,
    api: Option<ApiKey>,
    version: i16,
    correlation: i32,
    decoded: Decoded,
}

enum Decoded {
    Produce(ProduceRequest),
    Fetch(FetchRequest),
    Other,
}

impl Request {
    fn parse(frame: Bytes) -> Result<Request, String> {
        let (key, version, correlation) = wire::peek_header(&frame).ok_or("a request shorter than its header")?;
        let api = ApiKey::try_from(key).ok();
        // Requests this codec cannot read are relayed untouched (the broker judges them).
        let decoded = match api {
            Some(ApiKey::Produce) if in_range(ProduceRequest::VERSIONS, version) => {
                decode(ApiKey::Produce, &frame, version).map_or(Decoded::Other, Decoded::Produce)
            }
            Some(ApiKey::Fetch) if in_range(FetchRequest::VERSIONS, version) => {
                decode(ApiKey::Fetch, &frame, version).map_or(Decoded::Other, Decoded::Fetch)
            }
            _ => Decoded::Other,
        };
        Ok(Request { frame, api, version, correlation, decoded })
    }

    /// The API's event name and the topics the request names.
    fn topics(&self) -> (&'static str, Vec<String>) {
        match &self.decoded {
            Decoded::Produce(r) => ("produce", r.topic_data.iter().map(|t| t.name.0.as_str().to_owned()).collect()),
            Decoded::Fetch(r) => ("fetch", r.topics.iter().map(|t| t.topic.0.as_str().to_owned()).collect()),
            Decoded::Other => ("", Vec::new()),
        }
    }

    /// Whether the broker answers it (an acks=0 produce is not answered).
    fn answered(&self) -> bool {
        !matches!(&self.decoded, Decoded::Produce(r) if r.acks == 0)
    }
}

fn in_range(range: VersionRange, version: i16) -> bool {
    (range.min..=range.max).contains(&version)
}

/// The request, when it decodes; its arrays are checked first (see `mock::kafka::guard`).
fn decode<M: Decodable>(api: ApiKey, frame: &Bytes, version: i16) -> Option<M> {
    let mut body = frame.clone();
    decode_request_header_from_buffer(&mut body).ok()?;
    guard::check_request(api, version, &body).ok()?;
    M::decode(&mut body, version).ok()
}

/// What a fired rule leaves to do.
enum Next {
    Forward { copies: usize },
    Answered,
    Close,
}

impl Session {
    async fn run(&mut self) -> Result<(), String> {
        loop {
            let Some(frame) = wire::read_frame(&mut self.client, "the consumer").await? else { return Ok(()) };
            let request = Request::parse(frame)?;
            let copies = match self.rule_for(&request) {
                None => 1,
                Some((active, topic)) => match self.act(&active, &request, topic).await? {
                    Next::Forward { copies } => copies,
                    Next::Answered => continue,
                    Next::Close => return Ok(()),
                },
            };
            self.forward(&request, copies).await?;
        }
    }

    /// The first rule that fires on one of the request's topics (a `duplicate` rule does not
    /// apply to a Fetch), with that topic.
    fn rule_for(&self, request: &Request) -> Option<(Fired, String)> {
        if self.ctx.rules.is_empty() {
            return None;
        }
        let (api, topics) = request.topics();
        let fetch = matches!(request.decoded, Decoded::Fetch(_));
        topics.into_iter().find_map(|topic| {
            let message = [("topic", topic.as_str()), ("api", api)];
            let fired = self.ctx.rules.first_firing(|rule| {
                !(fetch && matches!(rule.action, ProxyAction::Duplicate))
                    && self.ctx.globs.matches_all(&rule.matchers, &message)
            });
            fired.map(|active| (active, topic))
        })
    }

    async fn act(&mut self, active: &Fired, request: &Request, topic: String) -> Result<Next, String> {
        let (api, _) = request.topics();
        let mut data: Vec<(&str, Value)> = vec![("api", api.into()), ("topic", topic.into())];
        let next = match &active.rule.action {
            ProxyAction::Error { message, .. } | ProxyAction::Respond { body: message, .. } => {
                let message = message.as_deref().unwrap_or("injected fault");
                let code = wire::error_code_in(message).unwrap_or(UNKNOWN_SERVER_ERROR);
                data.push(("error_code", code.into()));
                if request.answered() {
                    let answer = error_answer(request, code, message)?;
                    self.ctx.fired(active, data);
                    self.client.write_all(&answer).await.map_err(|e| format!("writing the consumer: {e}"))?;
                    return Ok(Next::Answered);
                }
                Next::Answered
            }
            ProxyAction::Delay { ms } => {
                data.push(("delay_ms", (*ms).into()));
                self.ctx.fired(active, data);
                tokio::time::sleep(Duration::from_millis(*ms)).await;
                return Ok(Next::Forward { copies: 1 });
            }
            ProxyAction::Drop => Next::Close,
            ProxyAction::Duplicate => Next::Forward { copies: 2 },
        };
        self.ctx.fired(active, data);
        Ok(next)
    }

    /// Sends the request upstream `copies` times and relays the first answer.
    async fn forward(&mut self, request: &Request, copies: usize) -> Result<(), String> {
        let prefix = (request.frame.len() as u32).to_be_bytes();
        for copy in 0..copies {
            self.upstream.write_all(&prefix).await.map_err(|e| format!("writing the upstream: {e}"))?;
            self.upstream.write_all(&request.frame).await.map_err(|e| format!("writing the upstream: {e}"))?;
            if !request.answered() {
                continue;
            }
            let answer = wire::read_frame(&mut self.upstream, "the upstream")
                .await?
                .ok_or("the upstream closed the connection with an answer outstanding")?;
            if copy > 0 {
                continue;
            }
            let answer = self.rewrite(request, answer);
            self.client.write_all(&answer).await.map_err(|e| format!("writing the consumer: {e}"))?;
        }
        Ok(())
    }

    /// The answer as a frame, with the upstream broker replaced by this proxy in Metadata and
    /// FindCoordinator answers (unchanged when it does not decode).
    fn rewrite(&self, request: &Request, answer: Bytes) -> BytesMut {
        let rewritten = match (request.api, self.advertised) {
            (Some(ApiKey::Metadata), Some(proxy)) => self.rewrite_metadata(request, &answer, proxy),
            (Some(ApiKey::FindCoordinator), Some(proxy)) => self.rewrite_coordinator(request, &answer, proxy),
            _ => None,
        };
        rewritten.unwrap_or_else(|| {
            let mut frame = BytesMut::with_capacity(answer.len() + 4);
            frame.extend_from_slice(&(answer.len() as u32).to_be_bytes());
            frame.extend_from_slice(&answer);
            frame
        })
    }

    fn is_upstream(&self, port: i32) -> bool {
        port == i32::from(self.ctx.edge.upstream.port())
    }

    fn rewrite_metadata(&self, request: &Request, answer: &Bytes, proxy: SocketAddr) -> Option<BytesMut> {
        let (_, mut response) = wire::decode_response::<MetadataRequest>(answer.clone(), request.version).ok()?;
        for broker in response.brokers.iter_mut().filter(|b| self.is_upstream(b.port)) {
            broker.host = StrBytes::from_string(proxy.ip().to_string());
            broker.port = i32::from(proxy.port());
        }
        wire::response_frame(ApiKey::Metadata, request.version, request.correlation, &response).ok()
    }

    fn rewrite_coordinator(&self, request: &Request, answer: &Bytes, proxy: SocketAddr) -> Option<BytesMut> {
        let (_, mut response) =
            wire::decode_response::<FindCoordinatorRequest>(answer.clone(), request.version).ok()?;
        let host = StrBytes::from_string(proxy.ip().to_string());
        if self.is_upstream(response.port) {
            response.host = host.clone();
            response.port = i32::from(proxy.port());
        }
        for coordinator in response.coordinators.iter_mut().filter(|c| self.is_upstream(c.port)) {
            coordinator.host = host.clone();
            coordinator.port = i32::from(proxy.port());
        }
        wire::response_frame(ApiKey::FindCoordinator, request.version, request.correlation, &response).ok()
    }
}

/// The answer to a faulted Produce or Fetch: every partition it names fails with `code`.
fn error_answer(request: &Request, code: i16, message: &str) -> Result<BytesMut, String> {
    let (version, correlation) = (request.version, request.correlation);
    match &request.decoded {
        Decoded::Produce(produce) => {
            let mut response = ProduceResponse::default();
            for topic in &produce.topic_data {
                let mut answer = TopicProduceResponse::default();
                answer.name = topic.name.clone();
                for partition in &topic.partition_data {
                    let mut entry = PartitionProduceResponse::default();
                    entry.index = partition.index;
                    entry.error_code = code;
                    entry.base_offset = -1;
                    entry.log_append_time_ms = -1;
                    entry.log_start_offset = -1;
                    if version >= 8 {
                        entry.error_message = Some(StrBytes::from_string(message.to_owned()));
                    }
                    answer.partition_responses.push(entry);
                }
                response.responses.push(answer);
            }
            wire::response_frame(ApiKey::Produce, version, correlation, &response)
        }
        Decoded::Fetch(fetch) => {
            let mut response = FetchResponse::default();
            for topic in &fetch.topics {
                let mut answer = FetchableTopicResponse::default();
                answer.topic = topic.topic.clone();
                answer.topic_id = topic.topic_id;
                for partition in &topic.partitions {
                    let mut entry = PartitionData::default();
                    entry.partition_index = partition.partition;
                    entry.error_code = code;
                    entry.high_watermark = -1;
                    entry.last_stable_offset = -1;
                    entry.log_start_offset = -1;
                    entry.records = Some(Bytes::new());
                    answer.partitions.push(entry);
                }
                response.responses.push(answer);
            }
            wire::response_frame(ApiKey::Fetch, version, correlation, &response)
        }
        Decoded::Other => Err("only Produce and Fetch requests can be answered with an error".to_owned()),
    }
}
