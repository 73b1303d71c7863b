//! The arguments of `dead-letter-replay`, read into a [`Selection`] and the dry-run flag.

use obs_kafka::replay::Selection;

pub const USAGE: &str =
    "usage: dead-letter-replay [--dry-run] [--kind KIND]... [--stage STAGE]... \
[--since RFC3339] [--until RFC3339] [--id TOPIC/PARTITION/OFFSET]... [--limit N]";

/// The selection and `--dry-run` of `args` (without the program name), validated.
pub fn parse(args: &[String]) -> Result<(Selection, bool), String> {
    let mut selection = Selection::default();
    let mut dry_run = false;
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        if flag == "--dry-run" {
            dry_run = true;
            continue;
        }
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let time = |v: &str| {
            v.parse()
                .map_err(|e| format!("{flag} {v:?}: not an RFC 3339 time ({e})"))
        };
        match flag.as_str() {
            "--kind" => selection.kinds.push(value.clone()),
            "--stage" => selection.stages.push(value.clone()),
            "--id" => selection.ids.push(value.clone()),
            "--since" => selection.since = Some(time(value)?),
            "--until" => selection.until = Some(time(value)?),
            "--limit" => {
                selection.limit = Some(
                    value
                        .parse()
                        .map_err(|_| format!("--limit {value:?}: not a number"))?,
                )
            }
            _ => return Err(format!("unknown argument {flag:?}\n{USAGE}")),
        }
    }
    selection.validate().map_err(|e| format!("{e}\n{USAGE}"))?;
    Ok((selection, dry_run))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn flags_fill_the_selection() {
        let (selection, dry_run) = parse(&args(
            "--kind malformed_json --kind missing_field --stage standardization \
             --since 2026-01-01T00:00:00Z --until 2026-01-02T00:00:00Z \
             --id dead-letters/0/12 --limit 50 --dry-run",
        ))
        .unwrap();
        assert!(dry_run);
        assert_eq!(selection.kinds, ["malformed_json", "missing_field"]);
        assert_eq!(selection.stages, ["standardization"]);
        assert_eq!(selection.ids, ["dead-letters/0/12"]);
        assert_eq!(selection.limit, Some(50));
        assert_eq!(
            selection.since.unwrap().to_rfc3339(),
            "2026-01-01T00:00:00+00:00"
        );
        assert!(selection.until.is_some());
    }

    #[test]
    fn bad_or_missing_arguments_are_refused_with_the_usage() {
        for line in [
            "",
            "--dry-run",
            "--kind",
            "--since yesterday",
            "--limit many --kind x",
            "--id dead-letters --dry-run",
            "--colour red",
        ] {
            let error = parse(&args(line)).unwrap_err();
            assert!(
                error.contains("usage") || error.contains("RFC 3339") || error.contains("number"),
                "{line:?}: {error}"
            );
        }
    }
}
