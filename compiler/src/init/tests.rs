//! `init` end to end without IO: Compose text in, files out, and every generated topology and
//! OSpec file checked by the same analysis `ospecc check` runs.

use std::path::Path;

use super::*;
use crate::analysis::{check_file, FileInput, Language};
use crate::ospec::CheckOptions;
use crate::vfs::MemoryFs;

fn compose(text: &str) -> Generated {
    compose_with(text, &[])
}

fn compose_with(text: &str, profiles: &[String]) -> Generated {
    from_compose(&ComposeInput {
        text,
        file_name: "docker-compose.yml",
        default_name: "shop",
        profiles,
        base: "",
        spec_name: None,
    })
}

/// Every generated file checked beside the others; returns the errors and warnings as
/// `file: CODE message` (notes, such as "needs a container engine", are information).
fn check_generated(generated: &Generated) -> Vec<String> {
    let mut fs = MemoryFs::default();
    for file in &generated.files {
        fs = fs.with_file(&format!("/w/{}", file.name), &file.text);
    }
    let options = CheckOptions::default();
    let mut found = Vec::new();
    for file in &generated.files {
        let path = format!("/w/{}", file.name);
        let language = if file.name.ends_with(".star") { Language::Topology } else { Language::OSpec };
        let input = FileInput {
            path: Path::new(&path),
            text: &file.text,
            language,
            fs: &fs,
            root: Path::new("/w"),
            options: &options,
        };
        let diagnostics = check_file(&input);
        let findings = diagnostics.iter().filter(|d| d.severity != crate::Severity::Note);
        found.extend(findings.map(|d| format!("{}: {} {}", file.name, d.code, d.message)));
    }
    found
}

fn star(generated: &Generated) -> &str {
    &generated.files.iter().find(|f| f.name.ends_with(".star")).unwrap().text
}

const WEB_PG_REDIS: &str = r#"
services:
  web:
    build: ./web
    ports: ["8000:8000"]
    environment:
      DATABASE_URL: postgres://app:secret@db:5432/app
      REDIS_URL: redis://cache:6379/0
    depends_on:
      db:
        condition: service_healthy
      cache:
        condition: service_started
  db:
    image: postgres:16
    environment:
      POSTGRES_USER: app
      POSTGRES_PASSWORD: secret
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -U app"]
      interval: 5s
      retries: 10
  cache:
    image: redis:7-alpine
"#;

#[test]
fn web_postgres_redis_generates_a_clean_spec() {
    let generated = compose(WEB_PG_REDIS);
    assert!(generated.diagnostics.is_empty(), "{:#?}", generated.diagnostics);
    let text = star(&generated);
    eprintln!("{text}");
    assert_eq!(check_generated(&generated), Vec::<String>::new());
}
