//! `vmledger hash FILE`: streaming SHA-256 with a progress bar on stderr.

use crate::args::HashArgs;
use crate::context::Ctx;
use crate::output::fields;
use crate::progress;

pub(crate) async fn run(ctx: &Ctx, args: HashArgs) -> anyhow::Result<()> {
    let key = args.key.given()?;
    let hashed = progress::hash(ctx.out, &args.file, key.as_ref()).await?;
    ctx.out.show(&hashed, || {
        if ctx.out.quiet {
            format!("{}  {}", hashed.hash, args.file.display())
        } else {
            let mut shown = vec![("sha256", hashed.hash.clone())];
            if let Some(keyed) = &hashed.keyed_digest {
                shown.push(("hmac-sha256", keyed.clone()));
            }
            fields(
                &[
                    shown,
                    vec![
                        ("file", args.file.display().to_string()),
                        ("bytes", hashed.bytes.to_string()),
                        ("time", format!("{} ms", hashed.elapsed_ms)),
                        ("rate", format!("{:.0} MB/s", hashed.megabytes_per_second())),
                    ],
                ]
                .concat(),
            )
        }
    })
}
