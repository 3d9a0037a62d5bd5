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
mod policy_cmd;
mod registry;
mod serve;
mod serve_cmd;
mod serve_config;
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
    after_help = "Start here:\n  mandate demo          # the whole story in a few seconds, nothing to prepare\n\nExit codes: 0 ok/allow, 1 failure, 2 usage, 3 deny, 4 missing file, 5 invalid input, 6 bundle refused, 7 audit log tampered, 8 a policy test failed."
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
    /// Evaluates the guardrails alone on a raw guardrail input (what the Rego sees): exit 0 allow / 3 deny.
    #[command(
        after_help = "Example:\n  mandate eval --bundle bundle.json --input input.json --agent agent:travel-booker\n  echo '{\"user\": {\"id\": \"alice\"}, \"request\": {\"action\": \"trips:read\"}}' | mandate eval --policy policies/ --input -"
    )]
    Eval(policy_cmd::EvalArgs),
    /// Runs policy unit tests: cases of guardrail inputs and the answers they must get (exit 8 on a failure).
    #[command(
        after_help = "Example:\n  mandate test --bundle bundle.json tests/guardrails_test.yaml\n  mandate test --policy policies/ --data data.yaml --registry registry.yaml tests/*.yaml\n\nA test file:\n  cases:\n    - name: alice reads her secret from the office\n      agent: agent:travel-booker        # optional: input.agent from the registry\n      input: {user: {id: alice}, request: {action: secrets:read, ip: 10.20.0.7}}\n      expect: allow                     # or deny\n      deny: [\"...\"]                     # optional: the deny messages, exactly\n      obligations: {}                   # optional: exactly"
    )]
    Test(policy_cmd::TestArgs),
    /// Checks the hash-chained audit log.
    #[command(after_help = "Example:\n  mandate audit verify /var/log/mandate/audit.jsonl")]
    Audit(audit_cmd::AuditArgs),
    /// Runs the HTTP decision service.
    Serve(Box<serve_cmd::ServeArgs>),
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
        Cmd::Eval(a) => policy_cmd::eval(a, &out),
        Cmd::Test(a) => policy_cmd::test(a, &out),
        Cmd::Audit(a) => audit_cmd::run(a, &out).map(|()| exit::OK),
        Cmd::Serve(a) => runtime()?.block_on(serve_cmd::run(a)).map(|()| exit::OK),
        Cmd::Demo(a) => runtime()?.block_on(demo::run(a, &out)),
        Cmd::BenchServe(a) => runtime()?.block_on(bench::run(a, &out)),
    }
}

fn main() -> ExitCode {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let argv = match serve_config::expand(&argv) {
        Ok(a) => a,
        Err(e) => {
            if argv.iter().any(|a| a == "--json") {
                outln!("{}", e.to_json());
            } else {
                errln!("{}", e.line());
            }
            return ExitCode::from(e.exit_code());
        }
    };
    let cli = Cli::parse_from(argv);
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
