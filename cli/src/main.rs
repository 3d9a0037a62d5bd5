//! `mandate`: keys, the agent registry, bundles, tokens, decisions, the audit log, the HTTP
//! decision service and the end-to-end demo. See cli/README.md.

mod audit_cmd;
mod bench;
mod bundle;
mod bundle_lint;
mod decide;
mod demo;
mod error;
mod io;
mod keygen;
mod out;
mod registry;
mod serve;
mod serve_cmd;
mod token;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use error::{CliError, exit};
use out::{Out, errln, outln};

#[derive(Debug, Parser)]
#[command(
    name = "mandate",
    version,
    about = "Authorization for AI agents: who may act, on whose behalf, for what — decided per request, audited",
    after_help = "Start here:\n  mandate demo          # the whole story in a few seconds, nothing to prepare\n\nExit codes: 0 ok/allow, 1 failure, 2 usage, 3 deny, 4 missing file, 5 invalid input, 6 bundle refused, 7 audit log tampered."
)]
struct Cli {
    /// Machine-readable output (one JSON document on stdout; errors as JSON too).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Writes a P-256 JWK key pair.
    Keygen(keygen::KeygenArgs),
    /// Edits the agent registry file (YAML or JSON).
    #[command(
        after_help = "Example:\n  mandate agent add agent:travel-booker --owner team:travel --key keys/booker.pub.jwk --scope 'trips:*'\n  mandate agent list\n  mandate agent suspend agent:travel-booker"
    )]
    Agent(registry::AgentArgs),
    /// Builds, signs, shows and checks bundles.
    #[command(
        after_help = "Example:\n  mandate bundle build --registry registry.yaml --issuers issuers.yaml --policy policies/ --out bundle.json\n  mandate bundle sign bundle.json --key keys/root.jwk --out bundle.jws\n  mandate bundle verify bundle.jws --trust keys/root.pub.jwk"
    )]
    Bundle(bundle::BundleArgs),
    /// Mints and inspects tokens.
    #[command(
        after_help = "Example:\n  mandate token delegate --key keys/idp.jwk --iss https://idp.example.com --sub alice \\\n    --agent agent:travel-booker --agent-key keys/booker.pub.jwk --aud https://api.example.com --scope trips:read > alice.jwt\n  mandate token inspect @alice.jwt"
    )]
    Token(token::TokenArgs),
    /// Decides one request: decision JSON out, exit 0 allow / 3 deny.
    Decide(decide::DecideArgs),
    /// Checks the hash-chained audit log.
    #[command(after_help = "Example:\n  mandate audit verify /var/log/mandate/audit.jsonl")]
    Audit(audit_cmd::AuditArgs),
    /// Runs the HTTP decision service.
    Serve(serve_cmd::ServeArgs),
    /// The end-to-end demo: a person delegates, an agent sub-delegates, requests go through a real service.
    #[command(
        after_help = "Example:\n  mandate demo\n  mandate demo --json   # one JSON document with every row"
    )]
    Demo(demo::DemoArgs),
    /// A bounded load run against an in-process service on loopback (decisions/s, p50/p99).
    #[command(
        name = "bench-serve",
        after_help = "Example:\n  mandate bench-serve --duration 60s --concurrency 4\n  MANDATE_LOAD_SECS=10 mandate bench-serve"
    )]
    BenchServe(bench::BenchArgs),
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::failure(format!("cannot start the async runtime: {e}")))
}

fn run(cli: &Cli) -> Result<u8, CliError> {
    let out = Out { json: cli.json };
    match &cli.cmd {
        Cmd::Keygen(a) => keygen::run(a, &out).map(|()| exit::OK),
        Cmd::Agent(a) => registry::run(a, &out).map(|()| exit::OK),
        Cmd::Bundle(a) => bundle::run(a, &out).map(|()| exit::OK),
        Cmd::Token(a) => token::run(a, &out).map(|()| exit::OK),
        Cmd::Decide(a) => runtime()?.block_on(decide::run(a, &out)),
        Cmd::Audit(a) => audit_cmd::run(a, &out).map(|()| exit::OK),
        Cmd::Serve(a) => runtime()?.block_on(serve_cmd::run(a)).map(|()| exit::OK),
        Cmd::Demo(a) => runtime()?.block_on(demo::run(a, &out)),
        Cmd::BenchServe(a) => runtime()?.block_on(bench::run(a, &out)),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        // A reader that went away (`| head`) is not a failure; any other lost output is.
        Ok(_) if out::stdout_failed() => ExitCode::from(exit::FAILURE),
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if cli.json {
                outln!("{}", e.to_json());
            } else {
                errln!("{}", e.line());
            }
            ExitCode::from(e.exit_code())
        }
    }
}
