//! What `init` knows about protocols, as tables: which images and well-known ports speak
//! which protocol, the interface name and default port of each, how a generated spec waits
//! for it and which step makes its happy-path test.

/// Image name fragments, the protocol their main port speaks and that port (first match
/// wins, so the more specific fragments come first).
const IMAGE_PROTOCOLS: &[(&str, &str, u16)] = &[
    ("postgis", "postgres", 5432),
    ("timescale", "postgres", 5432),
    ("postgres", "postgres", 5432),
    ("mariadb", "mysql", 3306),
    ("mysql", "mysql", 3306),
    ("percona", "mysql", 3306),
    ("valkey", "redis", 6379),
    ("keydb", "redis", 6379),
    ("dragonfly", "redis", 6379),
    ("redis", "redis", 6379),
    ("mongo", "mongodb", 27017),
    ("redpanda", "kafka", 9092),
    ("kafka", "kafka", 9092),
    ("zookeeper", "tcp", 2181),
    ("nats", "nats", 4222),
    ("rabbitmq", "amqp", 5672),
    ("memcached", "memcached", 11211),
    ("cassandra", "cassandra", 9042),
    ("scylla", "cassandra", 9042),
    ("clickhouse", "clickhouse", 8123),
    ("nginx", "http", 80),
    ("httpd", "http", 80),
    ("caddy", "http", 80),
    ("envoy", "http", 10000),
    ("traefik", "http", 80),
    ("haproxy", "http", 80),
    ("wiremock", "http", 8080),
    ("mockserver", "http", 1080),
    ("minio", "http", 9000),
    ("localstack", "http", 4566),
    ("elasticsearch", "http", 9200),
    ("opensearch", "http", 9200),
    ("grafana", "http", 3000),
    ("prometheus", "http", 9090),
];

/// Well-known container ports and their protocol.
const PORT_PROTOCOLS: &[(u16, &str)] = &[
    (80, "http"),
    (443, "http"),
    (3000, "http"),
    (3306, "mysql"),
    (4222, "nats"),
    (5000, "http"),
    (5432, "postgres"),
    (5672, "amqp"),
    (6379, "redis"),
    (8000, "http"),
    (8080, "http"),
    (8081, "http"),
    (8123, "clickhouse"),
    (8443, "http"),
    (9000, "http"),
    (9042, "cassandra"),
    (9090, "http"),
    (9092, "kafka"),
    (9200, "http"),
    (11211, "memcached"),
    (15672, "http"),
    (27017, "mongodb"),
    (29092, "kafka"),
    (50051, "grpc"),
];

/// Per protocol: the interface name a generated spec gives it and its default port.
const PROTOCOLS: &[(&str, &str, u16)] = &[
    ("amqp", "amqp", 5672),
    ("cassandra", "cql", 9042),
    ("clickhouse", "clickhouse", 8123),
    ("grpc", "grpc", 50051),
    ("http", "http", 8080),
    ("http2", "http", 8080),
    ("kafka", "kafka", 9092),
    ("memcached", "memcached", 11211),
    ("mongodb", "mongo", 27017),
    ("mysql", "mysql", 3306),
    ("nats", "nats", 4222),
    ("postgres", "pg", 5432),
    ("redis", "redis", 6379),
    ("tcp", "main", 0),
    ("udp", "udp", 0),
];

/// URL schemes and the port they imply when a URL names a host without one.
const SCHEME_PORTS: &[(&str, u16)] = &[
    ("http", 80),
    ("https", 443),
    ("postgres", 5432),
    ("postgresql", 5432),
    ("mysql", 3306),
    ("redis", 6379),
    ("mongodb", 27017),
    ("amqp", 5672),
    ("nats", 4222),
];

/// Protocols whose `ready()` healthcheck asks the protocol itself (a query, a PING, broker
/// metadata); the others are waited for with a TCP connect.
const READY_PROTOCOLS: &[&str] = &["postgres", "mysql", "redis", "mongodb", "kafka", "nats", "cassandra", "clickhouse"];

/// The protocol an image's main port speaks, from its name (`bitnami/postgresql:16`).
pub fn of_image(image: &str) -> Option<&'static str> {
    image_entry(image).map(|(_, protocol, _)| *protocol)
}

/// The port an image's main protocol listens on.
pub fn image_port(image: &str) -> Option<u16> {
    image_entry(image).map(|(_, _, port)| *port)
}

fn image_entry(image: &str) -> Option<&'static (&'static str, &'static str, u16)> {
    let name = image_name(image);
    IMAGE_PROTOCOLS.iter().find(|(fragment, _, _)| name.contains(fragment))
}

/// The repository part of an image reference, lower-cased, without registry host and tag.
fn image_name(image: &str) -> String {
    let without_digest = image.split('@').next().unwrap_or(image);
    let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
    let repository = last.split(':').next().unwrap_or(last);
    let path = match without_digest.rsplit_once('/') {
        Some((prefix, _)) => format!("{prefix}/{repository}"),
        None => repository.to_owned(),
    };
    path.to_ascii_lowercase()
}

/// The protocol a well-known port speaks.
pub fn of_port(port: u16) -> Option<&'static str> {
    PORT_PROTOCOLS.iter().find(|(p, _)| *p == port).map(|(_, protocol)| *protocol)
}

/// The protocol of one container port of a service: its image's protocol on the image's own
/// port, a well-known port's protocol, the image's protocol, else HTTP (an application).
pub fn detect(image: Option<&str>, port: u16, udp: bool) -> &'static str {
    if udp {
        return "udp";
    }
    let from_image = image.and_then(of_image);
    if let (Some(protocol), Some(main)) = (from_image, image.and_then(image_port)) {
        if main == port {
            return protocol;
        }
    }
    of_port(port).or(from_image).unwrap_or("http")
}

/// The interface name for a protocol (`pg` for postgres, as Faultbox's examples write it).
pub fn interface_name(protocol: &str) -> &'static str {
    PROTOCOLS.iter().find(|(p, _, _)| *p == protocol).map_or("main", |(_, name, _)| *name)
}

/// The port a protocol listens on by default, when it has one.
pub fn default_port(protocol: &str) -> Option<u16> {
    PROTOCOLS.iter().find(|(p, _, _)| *p == protocol).map(|(_, _, port)| *port).filter(|p| *p > 0)
}

/// The port a URL scheme implies.
pub fn scheme_port(scheme: &str) -> Option<u16> {
    let scheme = scheme.to_ascii_lowercase();
    SCHEME_PORTS.iter().find(|(s, _)| *s == scheme).map(|(_, port)| *port)
}

/// Whether `ready()` checks this protocol itself.
pub fn has_ready(protocol: &str) -> bool {
    READY_PROTOCOLS.contains(&protocol)
}

/// One happy-path step of a protocol: the call on `svc.iface` and what it asserts.
pub struct Step {
    /// `get(path = "/")`: appended to `svc.iface.`.
    pub call: &'static str,
    /// An expression over `resp` that holds on the happy path.
    pub check: &'static str,
}

/// The happy-path step per protocol (those with a step client; `amqp` and `memcached` have
/// none, so their interfaces get no test).
const STEPS: &[(&str, Step)] = &[
    ("http", Step { call: "get(path = \"/\")", check: "resp.status > 0 and resp.status < 500" }),
    ("http2", Step { call: "get(path = \"/\")", check: "resp.status > 0 and resp.status < 500" }),
    ("postgres", Step { call: "query(sql = \"SELECT 1\")", check: "resp.ok" }),
    ("mysql", Step { call: "query(sql = \"SELECT 1\")", check: "resp.ok" }),
    ("redis", Step { call: "ping()", check: "resp.ok" }),
    ("kafka", Step { call: "publish(topic = \"ospecc-init\", data = \"hello\")", check: "resp.ok" }),
    ("nats", Step { call: "publish(subject = \"ospecc.init\", data = \"hello\")", check: "resp.ok" }),
    ("mongodb", Step { call: "command(cmd = {\"ping\": 1})", check: "resp.ok" }),
    ("cassandra", Step { call: "query(cql = \"SELECT release_version FROM system.local\")", check: "resp.ok" }),
    ("clickhouse", Step { call: "query(sql = \"SELECT 1\")", check: "resp.ok" }),
    ("grpc", Step { call: "call(method = \"/grpc.health.v1.Health/Check\", body = \"{}\")", check: "resp.ok" }),
    ("udp", Step { call: "send(data = \"ping\")", check: "resp.ok" }),
    ("tcp", Step { call: "send(data = \"PING\")", check: "len(resp) >= 0" }),
];

/// The happy-path step of a protocol, if `ospecc run` has a client for it (a step it cannot
/// run would fail the test, TOP131).
pub fn step(protocol: &str) -> Option<&'static Step> {
    let runs = ospecc_schema::topology::catalog().protocol(protocol).is_some_and(|p| p.steps_run);
    STEPS.iter().find(|(p, _)| *p == protocol && runs).map(|(_, step)| step)
}

/// Whether ospecc knows the protocol (the catalog's list).
pub fn is_known(protocol: &str) -> bool {
    ospecc_schema::topology::catalog().protocol(protocol).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_and_ports_detect_protocols() {
        assert_eq!(of_image("postgres:16-alpine"), Some("postgres"));
        assert_eq!(of_image("docker.io/bitnami/postgresql:16"), Some("postgres"));
        assert_eq!(of_image("confluentinc/cp-kafka:7.6.0"), Some("kafka"));
        assert_eq!(of_image("registry:5000/team/app:1"), None);
        assert_eq!(detect(Some("postgres:16"), 5432, false), "postgres");
        assert_eq!(detect(Some("rabbitmq:3-management"), 15672, false), "http");
        assert_eq!(detect(Some("rabbitmq:3"), 5672, false), "amqp");
        assert_eq!(detect(Some("postgres"), 6543, false), "postgres");
        assert_eq!(detect(None, 6379, false), "redis");
        assert_eq!(detect(None, 4000, false), "http");
        assert_eq!(detect(None, 53, true), "udp");
        assert_eq!(detect(Some("zookeeper:3.9"), 2181, false), "tcp");
        assert_eq!(image_port("confluentinc/cp-zookeeper"), Some(2181));
        assert_eq!(interface_name("postgres"), "pg");
        assert_eq!(interface_name("weird"), "main");
        assert_eq!(scheme_port("HTTP"), Some(80));
    }

    #[test]
    fn every_table_protocol_is_in_the_catalog() {
        let images = IMAGE_PROTOCOLS.iter().map(|(_, p, _)| *p);
        for protocol in images.chain(PORT_PROTOCOLS.iter().map(|(_, p)| *p)).chain(PROTOCOLS.iter().map(|(p, _, _)| *p))
        {
            assert!(is_known(protocol), "{protocol}");
        }
        for (protocol, _) in STEPS {
            let known = ospecc_schema::topology::catalog().protocol(protocol).unwrap();
            let Some(step) = step(protocol) else { continue };
            let method = step.call.split('(').next().unwrap();
            assert!(known.methods.iter().any(|m| m.name == method), "{protocol}.{method}");
        }
    }
}
