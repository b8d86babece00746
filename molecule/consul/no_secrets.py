"""no_secrets.py SECRETS_DIR LOG...: fails (exit 1) if a secret of SECRETS_DIR (the gossip key, the
management, agent and Docker tokens) occurs in a LOG, naming the file and the kind of secret, never
the secret itself. A missing or empty log is an error too: a search of nothing proves nothing."""
import sys
from pathlib import Path


def main(secrets_dir, *logs):
    secrets = {}
    for name in ('gossip.key', 'management.token', 'agent.token', 'docker.token'):
        value = (Path(secrets_dir) / name).read_text().strip()
        if len(value) < 20:
            sys.exit('%s/%s is not a secret the role made' % (secrets_dir, name))
        secrets[name] = value
    bad = []
    for log in logs:
        text = Path(log).read_text(errors='replace') if Path(log).is_file() else ''
        if not text:
            sys.exit('%s is missing or empty: nothing was searched' % log)
        bad += ['%s holds the secret of %s' % (log, name) for name, value in secrets.items() if value in text]
        print('%s: %d lines searched for %d secrets' % (log, text.count('\n'), len(secrets)))
    if bad:
        sys.exit('; '.join(bad))


if __name__ == '__main__':
    main(*sys.argv[1:])
