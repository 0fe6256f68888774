//! A small blocking Kafka client on `kafka-protocol`'s codecs: one connection, versions
//! negotiated with ApiVersions, one request in flight. The steps (`publish`, `consume`) are
//! built on it; it is blocking because steps run on the test's thread.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest};
use kafka_protocol::protocol::{Request, StrBytes};

use super::{wire, APIS};

pub(crate) struct Client {
    stream: TcpStream,
    address: String,
    correlation: i32,
    /// The broker's version range per API key.
    versions: HashMap<i16, (i16, i16)>,
    deadline: Instant,
}

impl Client {
    /// Connects and negotiates versions; every read and write is bounded by `deadline`.
    pub(crate) fn connect(address: &str, deadline: Instant) -> Result<Client, String> {
        let addrs: Vec<SocketAddr> = address
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve the broker address {address}: {e}"))?
            .collect();
        let first = addrs.first().ok_or_else(|| format!("the broker address {address} resolves to nothing"))?;
        let stream = TcpStream::connect_timeout(first, remaining(deadline)?)
            .map_err(|e| format!("cannot reach the broker at {address}: {e}"))?;
        let _ = stream.set_nodelay(true);
        let mut client =
            Client { stream, address: address.to_owned(), correlation: 0, versions: HashMap::new(), deadline };
        // v0 is the version every broker answers (newer ones answer v0 in kind).
        let request = ApiVersionsRequest::default();
        let response = client.call_version(&request, 0)?;
        if response.error_code != 0 {
            return Err(format!(
                "the broker at {address} refused ApiVersions: {}",
                wire::describe_error(response.error_code)
            ));
        }
        client.versions = response.api_keys.iter().map(|k| (k.api_key, (k.min_version, k.max_version))).collect();
        Ok(client)
    }

    pub(crate) fn address(&self) -> &str {
        &self.address
    }

    /// Sends a request in the highest version both sides speak.
    pub(crate) fn call<R: Request>(&mut self, request: &R) -> Result<R::Response, String> {
        let key = ApiKey::try_from(R::KEY).map_err(|_| format!("unknown API key {}", R::KEY))?;
        let ours = APIS.iter().find(|(k, _, _)| *k == key).map_or(R::VERSIONS.max, |(_, _, max)| *max);
        let (broker_min, broker_max) =
            self.versions.get(&R::KEY).copied().ok_or_else(|| format!("the broker does not serve {key:?}"))?;
        let version = ours.min(broker_max);
        if version < broker_min.max(R::VERSIONS.min) {
            return Err(format!(
                "no {key:?} version in common with the broker (it serves {broker_min} to {broker_max})"
            ));
        }
        self.call_version(request, version)
    }

    /// The version [`Client::call`] would use for `R`.
    pub(crate) fn version_of<R: Request>(&self) -> i16 {
        let ours = APIS.iter().find(|(k, _, _)| *k as i16 == R::KEY).map_or(R::VERSIONS.max, |(_, _, max)| *max);
        self.versions.get(&R::KEY).map_or(ours, |(_, max)| ours.min(*max))
    }

    fn call_version<R: Request>(&mut self, request: &R, version: i16) -> Result<R::Response, String> {
        self.correlation = self.correlation.wrapping_add(1);
        let frame = wire::request_frame(self.correlation, version, request)?;
        let timeout = remaining(self.deadline)?;
        let _ = self.stream.set_write_timeout(Some(timeout));
        let _ = self.stream.set_read_timeout(Some(timeout));
        let address = &self.address;
        self.stream.write_all(&frame).map_err(|e| format!("sending to the broker at {address}: {e}"))?;
        let body = read_frame(&mut self.stream).map_err(|e| format!("reading from the broker at {address}: {e}"))?;
        let (correlation, response) = wire::decode_response::<R>(body, version)?;
        if correlation != self.correlation {
            return Err(format!("the broker answered request {correlation}, not {}", self.correlation));
        }
        Ok(response)
    }
}

fn read_frame(stream: &mut TcpStream) -> Result<Bytes, String> {
    let mut prefix = [0u8; 4];
    stream.read_exact(&mut prefix).map_err(|e| e.to_string())?;
    let len = wire::frame_len(prefix)?;
    let mut body = Vec::new();
    stream.take(len as u64).read_to_end(&mut body).map_err(|e| e.to_string())?;
    if body.len() < len {
        return Err("the connection closed in the middle of a response".to_owned());
    }
    Ok(Bytes::from(body))
}

/// Time left before `deadline`, or an error once it passed.
pub(crate) fn remaining(deadline: Instant) -> Result<Duration, String> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err("the step ran out of time".to_owned())
    } else {
        Ok(left)
    }
}

pub(crate) fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}
