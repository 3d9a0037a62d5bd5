//! `mandate keygen`: a P-256 key pair as two JWK files.

use policy_core::Code;
use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::json;

use crate::error::{CliError, Result};
use crate::io;
use crate::out::Out;

#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  mandate keygen --kid root-1 --out keys/root.jwk\n  # writes keys/root.jwk (private, mode 0600) and keys/root.pub.jwk"
)]
pub struct KeygenArgs {
    /// The key id (`kid`) to put in both JWKs.
    #[arg(long)]
    pub kid: String,
    /// Where to write the private JWK; the public one goes next to it as `<name>.pub.jwk`.
    #[arg(long)]
    pub out: PathBuf,
    /// Overwrite existing files.
    #[arg(long)]
    pub force: bool,
}

/// `keys/root.jwk` → `keys/root.pub.jwk`; `keys/root` → `keys/root.pub.jwk`.
pub fn public_path(private: &Path) -> PathBuf {
    let stem = match private.extension().and_then(|e| e.to_str()) {
        Some("jwk" | "json") => private.with_extension(""),
        _ => private.to_path_buf(),
    };
    let mut name = stem.into_os_string();
    name.push(".pub.jwk");
    PathBuf::from(name)
}

pub fn run(args: &KeygenArgs, out: &Out) -> Result<()> {
    let public = public_path(&args.out);
    for p in [&args.out, &public] {
        if p.exists() && !args.force {
            return Err(CliError::invalid(
                Code::FileExists,
                format!("{} already exists", p.display()),
            )
            .hint("pass --force to overwrite it, or choose another --out"));
        }
    }
    let key = host_rust::issuer::generate_key(Some(&args.kid))
        .map_err(|e| CliError::failure(e.to_string()))?;
    let private_json = serde_json::to_vec_pretty(&key.to_json_value())
        .map_err(|e| CliError::failure(e.to_string()))?;
    let public_json = serde_json::to_vec_pretty(&key.public().to_json_value())
        .map_err(|e| CliError::failure(e.to_string()))?;
    io::write(&args.out, &private_json, true)?;
    io::write(&public, &public_json, false)?;
    let thumbprint = key.public().thumbprint();
    out.result(
        &json!({"kid": args.kid, "private": args.out, "public": public, "thumbprint": thumbprint}),
        || {
            format!(
                "wrote {} (private, keep it secret) and {} (public)\nkid {}  thumbprint {}",
                args.out.display(),
                public.display(),
                args.kid,
                thumbprint
            )
        },
    );
    Ok(())
}
