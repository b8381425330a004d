# Every pytest run under tests/bindings (the Python binding's suite, the cross-language driver) names, in its
# header, the interpreter that runs it, the shmring module it imported, and the peers the driver found.
import os
import sys

import shmring


def pytest_report_header(config):
    peers = ["python"] + [lang for lang, var in (("cpp", "SHMRING_XPEER_CPP"), ("cs", "SHMRING_XPEER_CS"))
                          if os.environ.get(var)]
    return (f"shmring: interpreter {sys.executable} (Python {sys.version.split()[0]}), module {shmring.__file__}, "
            f"cross-language peers {', '.join(peers)}")
