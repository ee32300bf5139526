//! `dev-token`: prints a Sign in with Apple (or Google) style identity token signed with the
//! development key in `scripts/dev-idp/`, for `make dev` (see the `dev_token` library).
//!
//! Usage: dev-token [--sub SUB] [--provider apple|google] [--aud AUD] [--nonce RAW] [--email E]

use dev_token::DevToken;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut token = DevToken::apple("dev-user");
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--sub" => token.sub = value()?,
            "--provider" => token.provider = value()?,
            "--aud" => token.aud = Some(value()?),
            "--nonce" => token.nonce = Some(value()?),
            "--email" => token.email = Some(value()?),
            "-h" | "--help" => {
                println!(
                    "dev-token [--sub SUB] [--provider apple|google] [--aud AUD] [--nonce RAW] [--email E]"
                );
                return Ok(());
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    println!("{}", token.mint()?);
    Ok(())
}
