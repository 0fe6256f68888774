//! The engine's `run` command line for one container, as a pure function of what the launcher
//! decided (so it can be checked without an engine).
//!
//! The container runs in the foreground (`run --rm`, attached): the engine CLI is the supervised
//! process, its stdout and stderr are the container's, and its exit status is the container's.
//! On the run's bridge network ([`super::network`]) it is known by its service name
//! (`--network-alias`) and publishes its ports on the host's loopback (`-p 127.0.0.1:P:P`).
//! On the host's network (`--network host`) every address the runtime hands out
//! (`localhost:PORT` of processes and containers, proxy edges, mocks) is the same for it as for
//! a process, and every service name of the plan is a host name for 127.0.0.1 (`--add-host`),
//! so names spelled in a spec's text (`db:5432`) resolve too.

use super::engine::Kind;

/// One bind mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub host: String,
    pub container: String,
    pub read_only: bool,
}

/// Everything `run` needs.
#[derive(Debug, Clone, Default)]
pub struct RunArgs {
    pub name: String,
    pub image: String,
    pub labels: Vec<(String, String)>,
    /// A file of `KEY=VALUE` lines (values without line breaks).
    pub env_file: Option<String>,
    /// Variables passed by name from the CLI's own environment (values with line breaks).
    pub env_names: Vec<String>,
    /// The bridge network to join (`None`: the host's network).
    pub network: Option<String>,
    /// On the bridge: the container's names there (its service name).
    pub aliases: Vec<String>,
    /// On the bridge: ports published on the host's loopback under the same number.
    pub publish: Vec<u16>,
    /// On the host's network: host names that resolve to 127.0.0.1 inside the container.
    pub hosts: Vec<String>,
    pub mounts: Vec<Mount>,
    /// Replaces the image's entrypoint (the seccomp shim).
    pub entrypoint: Option<String>,
    /// After the image: replaces the image's command.
    pub command: Vec<String>,
}

impl RunArgs {
    /// The argument vector after the engine's program name.
    pub fn to_args(&self, kind: Kind) -> Vec<String> {
        let network = self.network.as_deref().unwrap_or("host");
        let mut args: Vec<String> =
            ["run", "--rm", "--name", &self.name, "--network", network, "--pull=never"].map(str::to_owned).into();
        if kind == Kind::Podman {
            // The container is ours to remove: no systemd unit, no conmon-side restart policy.
            args.push("--restart=no".to_owned());
        }
        for (key, value) in &self.labels {
            args.extend(["--label".to_owned(), format!("{key}={value}")]);
        }
        if let Some(file) = &self.env_file {
            args.extend(["--env-file".to_owned(), file.clone()]);
        }
        for name in &self.env_names {
            args.extend(["--env".to_owned(), name.clone()]);
        }
        if self.network.is_some() {
            for alias in &self.aliases {
                args.extend(["--network-alias".to_owned(), alias.clone()]);
            }
            for port in &self.publish {
                args.extend(["--publish".to_owned(), format!("127.0.0.1:{port}:{port}")]);
            }
        } else {
            for host in &self.hosts {
                args.extend(["--add-host".to_owned(), format!("{host}:127.0.0.1")]);
            }
        }
        for mount in &self.mounts {
            let mode = if mount.read_only { ":ro" } else { "" };
            args.extend(["--volume".to_owned(), format!("{}:{}{mode}", mount.host, mount.container)]);
        }
        if let Some(entrypoint) = &self.entrypoint {
            args.push(format!("--entrypoint={entrypoint}"));
        }
        args.push(self.image.clone());
        args.extend(self.command.iter().cloned());
        args
    }
}

/// Whether `name` can be an `--add-host` name (an RFC 1123 host name).
pub fn is_host_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// The env-file text for the variables that fit on one line; the names of the others (passed
/// with `--env NAME` from the CLI's environment).
pub fn env_file<'a>(vars: impl IntoIterator<Item = (&'a String, &'a String)>) -> (String, Vec<String>) {
    let mut text = String::new();
    let mut by_name = Vec::new();
    for (key, value) in vars {
        let plain = !key.is_empty()
            && !key.contains(['=', '\n', '\r', '#'])
            && !key.starts_with(char::is_whitespace)
            && !value.contains(['\n', '\r']);
        if plain {
            text.push_str(key);
            text.push('=');
            text.push_str(value);
            text.push('\n');
        } else if !key.is_empty() && !key.contains(['=', '\0']) {
            by_name.push(key.clone());
        }
    }
    (text, by_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_run_line_has_every_part_in_order() {
        let run = RunArgs {
            name: "ospecc-db-1".into(),
            image: "postgres:16-alpine".into(),
            labels: vec![("ospecc.run".into(), "42-abc".into())],
            env_file: Some("/tmp/x/env".into()),
            env_names: vec!["CERT".into()],
            network: None,
            aliases: vec!["db".into()],
            publish: vec![5432],
            hosts: vec!["db".into()],
            mounts: vec![Mount { host: "/data".into(), container: "/var/lib/data".into(), read_only: true }],
            entrypoint: Some("/.ospecc/ld.so".into()),
            command: vec!["--library-path".into(), "/.ospecc/lib".into()],
        };
        assert_eq!(
            run.to_args(Kind::Docker).join(" "),
            "run --rm --name ospecc-db-1 --network host --pull=never --label ospecc.run=42-abc --env-file /tmp/x/env \
             --env CERT --add-host db:127.0.0.1 --volume /data:/var/lib/data:ro --entrypoint=/.ospecc/ld.so \
             postgres:16-alpine --library-path /.ospecc/lib"
        );
        assert!(run.to_args(Kind::Podman).contains(&"--restart=no".to_owned()));
        let bridged = RunArgs { network: Some("ospecc-42-abc".into()), ..run };
        let line = bridged.to_args(Kind::Podman).join(" ");
        assert!(
            line.contains("--network ospecc-42-abc --pull=never")
                && line.contains("--network-alias db --publish 127.0.0.1:5432:5432")
                && !line.contains("--add-host"),
            "{line}"
        );
    }

    #[test]
    fn host_names() {
        assert!(is_host_name("db"));
        assert!(is_host_name("my-api.internal"));
        assert!(!is_host_name("under_score"));
        assert!(!is_host_name("-x"));
        assert!(!is_host_name(""));
    }

    #[test]
    fn multi_line_values_go_by_name() {
        let vars = [("A".to_owned(), "1".to_owned()), ("PEM".to_owned(), "line1\nline2".to_owned())];
        let (text, names) = env_file(vars.iter().map(|(k, v)| (k, v)));
        assert_eq!(text, "A=1\n");
        assert_eq!(names, ["PEM"]);
    }
}
