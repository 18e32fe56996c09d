"""`bakery` as a program: the console script (pyproject's [project.scripts]) and
``python -m bakery``. Only the garbage collector's settings differ from calling
``bakery.cli.run`` directly, and they are kept here, out of the importable package, so that a
process that imports bakery (pytest, a script) keeps its collector as it was."""

import gc

# Start-up allocates some 60,000 objects that live as long as the process (modules, classes,
# functions): the cyclic collector walking them while they load, and again at every full
# collection after, is wasted work. So it is off while they load, and they are then set aside
# for good (gc.freeze); collection is back on for whatever the command allocates.
_collecting = gc.isenabled()
gc.disable()
try:
    from bakery.cli import app
finally:
    gc.freeze()
    if _collecting:
        gc.enable()


def run() -> None:
    """Run the command line. The process ends right after, so what it leaves needs no cyclic
    collection either: freezing it spares the 0.05-0.1 s the interpreter's shutdown would spend
    walking it. atexit handlers, thread joins and reference-counted clean-up all still run."""
    try:
        app.run()
    finally:
        gc.freeze()


if __name__ == "__main__":
    run()
