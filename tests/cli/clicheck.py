"""Shared by the command-level tests: what makes an error 'clear'."""


def error_problems(r, needle, status=2):
    """What is wrong with completed process r as a clear error: exit status
    `status`, and stderr exactly one 'attnbench: error:' line containing
    `needle`. An empty list means nothing is."""
    lines = r.stderr.strip().splitlines()
    problems = []
    if r.returncode != status:
        problems.append(f"exit {r.returncode}, want {status}")
    if len(lines) != 1 or not lines[0].startswith("attnbench: error: "):
        problems.append(f"stderr is not one 'attnbench: error:' line: {r.stderr!r}")
    elif needle not in lines[0]:
        problems.append(f"message {lines[0]!r} lacks {needle!r}")
    return problems
