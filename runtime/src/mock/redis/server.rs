//! Connection and server commands: `PING`, `ECHO`, `INFO`, `SELECT`, `AUTH`, `HELLO` (switches
//! the connection to RESP3), `CLIENT`, `COMMAND`, `CONFIG GET`, `QUIT`. They answer as Redis
//! 7.2 does, enough for `redis-cli`, `redis-benchmark` and client libraries' handshakes.

use super::resp::Reply;
use super::store::DATABASES;
use super::table::{syntax_error, Call, Outcome, COMMANDS};

/// The version the mock reports (`INFO`, `HELLO`).
pub(super) const VERSION: &str = "7.2.4";

pub(super) fn ping(call: &mut Call<'_>) -> Outcome {
    match call.args.len() {
        1 => Ok(Reply::Simple("PONG")),
        2 => Ok(Reply::bulk(call.arg(1))),
        _ => Err(wrong_arguments("ping")),
    }
}

pub(super) fn echo(call: &mut Call<'_>) -> Outcome {
    Ok(Reply::bulk(call.arg(1)))
}

fn wrong_arguments(command: &str) -> Reply {
    Reply::error(format!("ERR wrong number of arguments for '{command}' command"))
}

/// `INFO [section ...]`: `server`, `clients`, `replication`, `keyspace` (all by default).
pub(super) fn info(call: &mut Call<'_>) -> Outcome {
    let wanted: Vec<String> = call.args[1..].iter().map(|s| String::from_utf8_lossy(s).to_ascii_lowercase()).collect();
    let everything = wanted.is_empty() || wanted.iter().any(|s| ["all", "everything", "default"].contains(&s.as_str()));
    let uptime = call.server.started.elapsed().as_secs();
    let sections: [(&str, String); 4] = [
        (
            "server",
            format!(
                "redis_version:{VERSION}\r\nredis_git_sha1:00000000\r\nredis_mode:standalone\r\nos:Linux\r\n\
                 arch_bits:64\r\nprocess_id:{}\r\ntcp_port:{}\r\nuptime_in_seconds:{uptime}\r\n\
                 uptime_in_days:{}\r\nexecutable:ospecc-redis-mock\r\n",
                std::process::id(),
                call.session.port,
                uptime / 86_400
            ),
        ),
        ("clients", "connected_clients:1\r\nmaxclients:10000\r\n".to_owned()),
        ("replication", "role:master\r\nconnected_slaves:0\r\n".to_owned()),
        ("keyspace", keyspace(call)),
    ];
    let text: Vec<String> = sections
        .iter()
        .filter(|(name, _)| everything || wanted.iter().any(|w| w == name))
        .map(|(name, body)| format!("# {}{}\r\n{body}", name[..1].to_ascii_uppercase(), &name[1..]))
        .collect();
    Ok(Reply::Verbatim(text.join("\r\n")))
}

/// `db0:keys=3,expires=1,avg_ttl=0` for every database holding keys.
fn keyspace(call: &mut Call<'_>) -> String {
    let mut text = String::new();
    for (index, db) in call.dbs.iter_mut().enumerate() {
        let (keys, expires) = (db.len(), db.expiring());
        if keys > 0 {
            text.push_str(&format!("db{index}:keys={keys},expires={expires},avg_ttl=0\r\n"));
        }
    }
    text
}

pub(super) fn select(call: &mut Call<'_>) -> Outcome {
    let index = call.int(1)?;
    let index = usize::try_from(index)
        .ok()
        .filter(|i| *i < DATABASES)
        .ok_or_else(|| Reply::error("ERR DB index is out of range"))?;
    call.session.db = index;
    Ok(Reply::ok())
}

/// `AUTH [user] password`: without a password in the mock's config every password is accepted.
pub(super) fn auth(call: &mut Call<'_>) -> Outcome {
    let (user, password) = match call.args.len() {
        2 => (None, call.arg(1).to_vec()),
        3 => (Some(call.arg(1).to_vec()), call.arg(2).to_vec()),
        _ => return Err(syntax_error()),
    };
    authenticate(call, user.as_deref(), &password)?;
    Ok(Reply::ok())
}

/// Checks credentials against the mock's password (the only user is `default`).
fn authenticate(call: &mut Call<'_>, user: Option<&[u8]>, password: &[u8]) -> Result<(), Reply> {
    let accepted = match &call.server.password {
        None => true,
        Some(expected) => user.is_none_or(|user| user == b"default") && password == expected.as_bytes(),
    };
    if !accepted {
        return Err(Reply::error("WRONGPASS invalid username-password pair or user is disabled."));
    }
    call.session.authenticated = true;
    Ok(())
}

/// `HELLO [protover [AUTH user password] [SETNAME name]]`: the server's description as a map,
/// in the protocol just chosen.
pub(super) fn hello(call: &mut Call<'_>) -> Outcome {
    let mut resp3 = call.session.resp3;
    if call.args.len() > 1 {
        resp3 = match call.int(1) {
            Ok(2) => false,
            Ok(3) => true,
            _ => return Err(Reply::error("NOPROTO unsupported protocol version")),
        };
    }
    let (mut credentials, mut name) = (None, None);
    let mut i = 2;
    while i < call.args.len() {
        match call.option(i).as_str() {
            "AUTH" if i + 2 < call.args.len() => {
                credentials = Some((call.arg(i + 1).to_vec(), call.arg(i + 2).to_vec()));
                i += 3;
            }
            "SETNAME" if i + 1 < call.args.len() => {
                name = Some(call.arg(i + 1).to_vec());
                i += 2;
            }
            _ => {
                let option = String::from_utf8_lossy(call.arg(i)).into_owned();
                return Err(Reply::error(format!("ERR Syntax error in HELLO option '{option}'")));
            }
        }
    }
    match credentials {
        Some((user, password)) => authenticate(call, Some(&user), &password)?,
        None if call.server.password.is_some() && !call.session.authenticated => {
            return Err(Reply::error(
                "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> \
                 AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol \
                 version at the same time",
            ))
        }
        None => {}
    }
    if let Some(name) = name {
        set_name(call, name)?;
    }
    call.session.resp3 = resp3;
    let field = |name: &str, value: Reply| (Reply::text(name), value);
    Ok(Reply::Map(vec![
        field("server", Reply::text("redis")),
        field("version", Reply::text(VERSION)),
        field("proto", Reply::Int(if resp3 { 3 } else { 2 })),
        field("id", Reply::Int(call.session.id as i64)),
        field("mode", Reply::text("standalone")),
        field("role", Reply::text("master")),
        field("modules", Reply::Array(Vec::new())),
    ]))
}

fn set_name(call: &mut Call<'_>, name: Vec<u8>) -> Result<(), Reply> {
    if name.iter().any(|b| !(b'!'..=b'~').contains(b)) {
        return Err(Reply::error("ERR Client names cannot contain spaces, newlines or special characters."));
    }
    call.session.name = (!name.is_empty()).then_some(name);
    Ok(())
}

/// `CLIENT SETNAME|GETNAME|SETINFO|ID|INFO|LIST`.
pub(super) fn client(call: &mut Call<'_>) -> Outcome {
    let sub = call.option(1);
    let arity_ok = match sub.as_str() {
        "SETNAME" => call.args.len() == 3,
        "SETINFO" => call.args.len() == 4,
        "GETNAME" | "ID" | "INFO" => call.args.len() == 2,
        "LIST" => true,
        _ => {
            let sub = String::from_utf8_lossy(call.arg(1)).into_owned();
            return Err(Reply::error(format!("ERR unknown subcommand '{sub}'. Try CLIENT HELP.")));
        }
    };
    if !arity_ok {
        return Err(wrong_arguments(&format!("client|{}", sub.to_ascii_lowercase())));
    }
    match sub.as_str() {
        "SETNAME" => set_name(call, call.arg(2).to_vec()).map(|_| Reply::ok()),
        "SETINFO" => match call.option(2).as_str() {
            "LIB-NAME" | "LIB-VER" => Ok(Reply::ok()),
            _ => {
                let option = String::from_utf8_lossy(call.arg(2)).into_owned();
                Err(Reply::error(format!("ERR Unrecognized option '{option}'")))
            }
        },
        "GETNAME" => Ok(call.session.name.as_deref().map_or(Reply::Nil, Reply::bulk)),
        "ID" => Ok(Reply::Int(call.session.id as i64)),
        "INFO" => Ok(Reply::Verbatim(client_line(call))),
        _ => Ok(Reply::Verbatim(client_line(call))),
    }
}

fn client_line(call: &Call<'_>) -> String {
    let name = call.session.name.as_deref().map(String::from_utf8_lossy).unwrap_or_default();
    let resp = if call.session.resp3 { 3 } else { 2 };
    format!(
        "id={} laddr=127.0.0.1:{} name={name} db={} resp={resp}\n",
        call.session.id, call.session.port, call.session.db
    )
}

/// `COMMAND`, `COMMAND COUNT|LIST|INFO|DOCS`: the table's commands; no documentation.
pub(super) fn command(call: &mut Call<'_>) -> Outcome {
    if call.args.len() == 1 {
        return Ok(Reply::Array(COMMANDS.iter().map(|spec| command_info(spec.name)).collect()));
    }
    match call.option(1).as_str() {
        "COUNT" => Ok(Reply::Int(COMMANDS.len() as i64)),
        "LIST" => Ok(Reply::Array(COMMANDS.iter().map(|spec| Reply::text(&spec.name.to_ascii_lowercase())).collect())),
        "INFO" => Ok(Reply::Array(
            call.args[2..]
                .iter()
                .map(|name| command_info(&String::from_utf8_lossy(name).to_ascii_uppercase()))
                .collect(),
        )),
        "DOCS" => Ok(Reply::Map(Vec::new())),
        _ => {
            let sub = String::from_utf8_lossy(call.arg(1)).into_owned();
            Err(Reply::error(format!("ERR unknown subcommand '{sub}'. Try COMMAND HELP.")))
        }
    }
}

/// A command's `COMMAND INFO` entry (name, arity, flags, first key, last key, step, ACL
/// categories, tips, key specs, subcommands), or nil for an unknown command.
fn command_info(name: &str) -> Reply {
    let Some(spec) = COMMANDS.iter().find(|spec| spec.name == name) else { return Reply::Nil };
    let key = i64::from(spec.keyed);
    let empty = || Reply::Array(Vec::new());
    Reply::Array(vec![
        Reply::text(&spec.name.to_ascii_lowercase()),
        Reply::Int(spec.arity.into()),
        Reply::Set(Vec::new()),
        Reply::Int(key),
        Reply::Int(key),
        Reply::Int(key),
        Reply::Set(Vec::new()),
        empty(),
        empty(),
        empty(),
    ])
}

/// The configuration `CONFIG GET` reports (clients such as `redis-benchmark` ask for some).
const CONFIG: &[(&str, &str)] = &[
    ("appendonly", "no"),
    ("bind", "127.0.0.1"),
    ("databases", "16"),
    ("maxclients", "10000"),
    ("maxmemory", "0"),
    ("maxmemory-policy", "noeviction"),
    ("proto-max-bulk-len", "536870912"),
    ("save", ""),
    ("timeout", "0"),
];

/// `CONFIG GET pattern [pattern ...]`; the mock's configuration cannot be changed.
pub(super) fn config(call: &mut Call<'_>) -> Outcome {
    match call.option(1).as_str() {
        "GET" if call.args.len() > 2 => {
            let patterns = &call.args[2..];
            let found = CONFIG
                .iter()
                .filter(|(name, _)| {
                    patterns.iter().any(|p| super::table::glob(&p.to_ascii_lowercase(), name.as_bytes()))
                })
                .map(|(name, value)| (Reply::text(name), Reply::text(value)))
                .collect();
            Ok(Reply::Map(found))
        }
        "GET" => Err(wrong_arguments("config|get")),
        "SET" => {
            let name = String::from_utf8_lossy(call.arg(2)).into_owned();
            Err(Reply::error(format!("ERR Unknown option or number of arguments for CONFIG SET - '{name}'")))
        }
        _ => {
            let sub = String::from_utf8_lossy(call.arg(1)).into_owned();
            Err(Reply::error(format!("ERR unknown subcommand '{sub}'. Try CONFIG HELP.")))
        }
    }
}

pub(super) fn quit(call: &mut Call<'_>) -> Outcome {
    call.session.quit = true;
    Ok(Reply::ok())
}
