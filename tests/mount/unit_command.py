"""Prints the command line a systemd unit runs, as systemd would build it.

usage: unit_command.py UNIT KEY INSTANCE PATH ROOT

KEY is ExecStart or ExecStop. INSTANCE is the escaped instance name (%i)
and PATH its unescaped path (%f). The unit's EnvironmentFile= is read
from under ROOT (ROOT + its path). The words come out separated by NULs.

The subset of systemd.service(5) vblkfs@.service uses: words split as the
shell does; %i and %f expanded inside words; a word that is just $NAME
becomes the variable's value split at white space (nothing if empty);
${NAME} is replaced by the value as it is, inside its word. The
environment file holds NAME=VALUE lines, '#' comments, optional quotes.
"""
import re
import shlex
import sys


def unit_value(unit, key):
    for line in open(unit):
        if line.startswith(key + "="):
            return line[len(key) + 1:].strip()
    sys.exit(f"{unit}: no {key}=")


def read_environment(path):
    env = {}
    for line in open(path):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        env[name.strip()] = value
    return env


def main():
    unit, key, instance, path, root = sys.argv[1:6]

    def specifiers(word):
        return word.replace("%i", instance).replace("%f", path)

    env = read_environment(root + specifiers(unit_value(unit, "EnvironmentFile")))
    argv = []
    for word in shlex.split(unit_value(unit, key)):
        word = specifiers(word)
        if re.fullmatch(r"\$[A-Za-z_][A-Za-z0-9_]*", word):
            argv += env.get(word[1:], "").split()
        else:
            argv.append(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: env.get(m.group(1), ""), word))
    sys.stdout.write("\0".join(argv))


main()
