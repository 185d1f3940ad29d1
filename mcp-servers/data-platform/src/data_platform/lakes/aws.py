"""AWS profiles: `~/.aws/credentials` and `~/.aws/config`, read as the AWS SDKs read them.

pyarrow's S3 client follows AWS_PROFILE only from the process environment, so a profile named in
the project's `.env` (which goes into the settings, not `os.environ`) was not seen. The server
reads the profile itself and passes its keys explicitly. Only static keys are read here
(`aws_access_key_id`, `aws_secret_access_key`, `aws_session_token`, plus `region` and
`endpoint_url`); SSO, `role_arn` and `credential_process` profiles are left to the AWS SDK's own
chain, which sees the process environment only.
"""

from __future__ import annotations

import configparser
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from data_platform.errors import InputError

_KEYS = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token", "region", "endpoint_url")


@dataclass(frozen=True)
class Profile:
    """One profile's values (None where neither file sets them); `found`: a file declares it."""

    name: str
    found: bool
    files: tuple[Path, Path]
    key: str | None = None
    secret: str | None = None
    token: str | None = None
    region: str | None = None
    endpoint: str | None = None

    def __repr__(self) -> str:  # never the key or secret, wherever a profile is printed
        return f"Profile({self.name!r}, found={self.found})"


def files(env: Mapping[str, str]) -> tuple[Path, Path]:
    """The credentials and config files, as AWS_SHARED_CREDENTIALS_FILE/AWS_CONFIG_FILE name them."""
    home = Path(env.get("HOME") or Path.home())
    creds = env.get("AWS_SHARED_CREDENTIALS_FILE") or str(home / ".aws" / "credentials")
    config = env.get("AWS_CONFIG_FILE") or str(home / ".aws" / "config")
    return Path(creds).expanduser(), Path(config).expanduser()


def named(env: Mapping[str, str]) -> str | None:
    """The profile the environment names (AWS_PROFILE, then AWS_DEFAULT_PROFILE), or None."""
    return env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE") or None


def profile(env: Mapping[str, str]) -> Profile:
    """The named profile (or `default`), the credentials file's values winning over the config's."""
    name = named(env) or "default"
    creds, config = files(env)
    values: dict[str, str] = {}
    found = False
    # The config file says [profile NAME] (but [default]); the credentials file says [NAME].
    for path, section in ((config, name if name == "default" else f"profile {name}"), (creds, name)):
        parser = _parse(path)
        if parser is None or not parser.has_section(section):
            continue
        found = True
        values.update({k: v.strip() for k in _KEYS if (v := parser.get(section, k, fallback=""))})
    return Profile(
        name,
        found,
        (creds, config),
        values.get("aws_access_key_id"),
        values.get("aws_secret_access_key"),
        values.get("aws_session_token"),
        values.get("region"),
        values.get("endpoint_url"),
    )


def _parse(path: Path) -> configparser.RawConfigParser | None:
    parser = configparser.RawConfigParser(default_section="\x00none")  # [default] is a profile here
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"The AWS file {path} cannot be read ({type(exc).__name__}).") from None
    try:
        parser.read_string(text, str(path))
    except configparser.Error as exc:  # its text can quote a line holding a secret: not shown
        line = getattr(exc, "lineno", None)
        at = f" near line {line}" if line else ""
        raise InputError(
            f"The AWS file {path} is not valid INI{at}.",
            hint="Fix it as `aws configure` writes it: [profile-name] then key = value lines.",
        ) from None
    return parser
