"""A plain install, as a new user makes it: the built wheel into a fresh virtualenv.

The path of the pkg_resources failure: pyformance 0.4 imports pkg_resources,
which new virtualenvs on Python 3.12+ lack and setuptools 81+ no longer ships.
Each case builds nothing twice: one wheel per session, one venv per case.
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.slow
with open(os.path.join(ROOT, "apptuit_like", "version.py")) as source:
    VERSION = re.search(r'__version__ = "([^"]+)"', source.read()).group(1)

REPORT = textwrap.dedent("""
    import sys, warnings
    from pyformance import MetricsRegistry
    import apptuit_like
    from apptuit_like.pyformance import ApptuitReporter

    registry = MetricsRegistry()
    reporter = ApptuitReporter(registry=registry, api_endpoint=sys.argv[1],
                               reporting_interval=60, tags={"case": sys.argv[2]})
    reporter.start()
    registry.counter("fresh.install").inc(7)
    reporter.stop()
    print(apptuit_like.__version__)
""")


def find_python(version: str) -> str:
    """The interpreter of a minor version: pyenv's, else python3.X on PATH."""
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    found = sorted(glob.glob(os.path.join(root, "versions", version + ".*", "bin",
                                          "python" + version)))
    on_path = shutil.which("python" + version)
    for candidate in found[-1:] + ([on_path] if on_path else []):
        if subprocess.run([candidate, "-c", ""], capture_output=True).returncode == 0:
            return candidate
    pytest.fail("Python %s is not installed; install it with `pyenv install %s` (or the "
                "python%s package) so that the install test can use it"
                % (version, version, version), pytrace=False)


@pytest.fixture(scope="session")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out),
                    ROOT], check=True, capture_output=True)
    (built,) = glob.glob(str(out / "apptuit_like-*.whl"))
    return built


def run(args, **kwargs):
    done = subprocess.run(args, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, "%s failed:\n%s\n%s" % (args, done.stdout, done.stderr)
    return done


@pytest.mark.parametrize("version, upgrade_setuptools", [
    ("3.13", False),   # the newest Python here; its venvs have no setuptools
    ("3.12", False),
    ("3.11", True),    # venv's setuptools upgraded to the newest, which lacks pkg_resources
])
def test_wheel_in_a_fresh_venv_imports_and_reports(vm, wheel, tmp_path, uid, version,
                                                    upgrade_setuptools):
    venv = tmp_path / "venv"
    run([find_python(version), "-m", "venv", str(venv)])
    python = str(venv / "bin" / "python")
    pip = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    if upgrade_setuptools:
        run(pip + ["-U", "setuptools"])
    run(pip + [wheel])

    done = run([python, "-c", REPORT, vm.put_endpoint, uid], cwd=str(tmp_path))
    assert done.stdout.strip() == VERSION
    assert done.stderr == "", "a user would see: " + done.stderr   # no visible warning
    stored = vm.series('fresh_install_count{case="%s"}' % uid)
    assert [points[-1][1] for points in stored.values()] == [7]

    command = run([str(venv / "bin" / "apptuit-like"), "--help"])
    assert "demo" in command.stdout and "send" in command.stdout and "query" in command.stdout


def _requirements_but(*left_out):
    """setup.cfg's install_requires, without the named projects."""
    import configparser
    config = configparser.ConfigParser()
    config.read(os.path.join(ROOT, "setup.cfg"))
    lines = config["options"]["install_requires"].split("\n")
    return [line.split(";")[0].strip() for line in lines if line.strip()
            and not line.strip().startswith(left_out)]


def test_client_alone_imports_without_pyformance_installed(wheel, tmp_path):
    venv = tmp_path / "venv"
    run([find_python("3.13"), "-m", "venv", str(venv)])
    python = str(venv / "bin" / "python")
    pip = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    run(pip + ["--no-deps", wheel])
    run(pip + _requirements_but("pyformance", "psutil", "setuptools"))
    done = run([python, "-c", "from apptuit_like import Apptuit, DataPoint; "
                "Apptuit(api_endpoint='http://127.0.0.1:1'); print('client ok')"])
    assert done.stdout.strip() == "client ok"
    missing = subprocess.run([python, "-c", "import apptuit_like.pyformance"],
                             capture_output=True, text=True)
    assert "No module named 'pyformance'" in missing.stderr


def test_build_gives_sdist_and_wheel_that_pass_twine_check(tmp_path):
    run([sys.executable, "-m", "build", "-q", "--outdir", str(tmp_path), ROOT])
    built = sorted(os.path.basename(path) for path in glob.glob(str(tmp_path / "*")))
    assert built == ["apptuit_like-%s-py3-none-any.whl" % VERSION,
                     "apptuit_like-%s.tar.gz" % VERSION]
    checked = run([sys.executable, "-m", "twine", "check", "--strict"]
                  + [str(tmp_path / name) for name in built])
    assert checked.stdout.count("PASSED") == 2
    listing = run([sys.executable, "-m", "zipfile", "-l", str(tmp_path / built[0])]).stdout
    assert "apptuit_like/py.typed" in listing


def test_the_wheel_carries_the_license_setup_cfg_declares(wheel):
    import zipfile
    with zipfile.ZipFile(wheel) as built:
        names = [name for name in built.namelist() if name.rsplit("/", 1)[-1] == "LICENSE"]
        assert len(names) == 1, built.namelist()
        text = built.read(names[0]).decode()
        metadata = next(built.read(name).decode() for name in built.namelist()
                        if name.endswith(".dist-info/METADATA"))
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "Apache-2.0" in metadata
