#!/usr/bin/python3
# SPDX-License-Identifier: ISC
#
# Reads and drives fz-gui's window through the accessibility tree (AT-SPI,
# pyatspi), as a screen reader would: nothing here knows GTK.
#   gui_atspi.py state TEXT [TIMEOUT]   waits for a label "State: TEXT..."
#   gui_atspi.py rows N [TIMEOUT]       waits for N rows in the list named
#                                       Resources, prints their names (JSON)
#   gui_atspi.py click NAME             does a push button's first action
#   gui_atspi.py error TEXT [TIMEOUT]   waits for a label containing TEXT
#   gui_atspi.py type NAME TEXT         sets the text of an editable field
#   gui_atspi.py switch NAME            prints "sensitive|insensitive
#                                       on|off" and its description
#   gui_atspi.py toggle NAME            does a switch's first action
import json
import sys
import time

import pyatspi

APP = "fz-gui"


def app():
    for a in pyatspi.Registry.getDesktop(0):
        if a is not None and a.name == APP:
            return a
    return None


def walk(n):
    yield n
    for i in range(n.childCount):
        c = n.getChildAtIndex(i)
        if c is not None:
            yield from walk(c)


def nodes(role=None):
    a = app()
    if a is None:
        return []
    return [n for n in walk(a) if role is None or n.getRoleName() == role]


def until(fn, timeout):
    end = time.time() + timeout
    last = None
    while time.time() < end:
        try:
            last = fn()
            if last:
                return last
        except Exception as e:  # the tree changes under us: retry
            last = e
        time.sleep(0.2)
    return None


def labels():
    return [n.name for n in nodes("label")]


def state(text, timeout):
    want = "State: " + text
    got = until(lambda: [s for s in labels() if s.startswith(want)], timeout)
    if not got:
        sys.exit("no label '%s...'; labels: %s" % (want, labels()))
    print(got[0])


def rows(n, timeout):
    def get():
        for lst in nodes("list"):
            if lst.name != "Resources":
                continue
            r = [lst.getChildAtIndex(i).name for i in range(lst.childCount)]
            if len(r) == n:
                return r or [None]
        return None
    got = until(get, timeout)
    if got is None:
        sys.exit("the Resources list has not %d rows: %s" %
                 (n, [[c.name for c in lst] for lst in nodes("list")]))
    print(json.dumps([r for r in got if r is not None]))


def click(name):
    bs = [b for b in nodes("push button") if b.name == name]
    if not bs:
        sys.exit("no button '%s': %s" %
                 (name, [b.name for b in nodes("push button")]))
    act = bs[0].queryAction()
    names = [act.getName(i) for i in range(act.nActions)]
    if not names:
        sys.exit("button '%s' has no action" % name)
    act.doAction(0)
    print("clicked %s (%s)" % (name, names[0]))


def error(text, timeout):
    got = until(lambda: [s for s in labels() if text in s], timeout)
    if not got:
        sys.exit("no label with '%s'; labels: %s" % (text, labels()))
    print(got[0])


def type_text(name, text):
    es = [n for n in nodes() if n.name == name and
          n.getRoleName() in ("text", "password text", "entry")]
    if not es:
        sys.exit("no text field '%s'" % name)
    es[0].queryEditableText().setTextContents(text)
    print("typed into %s" % name)


def switch(name):
    ns = [n for n in nodes() if n.name == name and
          n.getRoleName() in ("check box", "toggle button", "switch")]
    if not ns:
        sys.exit("no switch '%s'" % name)
    st = ns[0].getState()
    return ns[0], "%s %s %s" % (
        "sensitive" if st.contains(pyatspi.STATE_SENSITIVE) else "insensitive",
        "on" if st.contains(pyatspi.STATE_CHECKED) else "off",
        ns[0].description)


def main():
    if until(app, 20) is None:
        sys.exit("%s is not on the accessibility bus" % APP)
    cmd = sys.argv[1]
    t = 20
    if cmd != "type" and len(sys.argv) > 3:
        t = float(sys.argv[3])
    if cmd == "state":
        state(sys.argv[2], t)
    elif cmd == "rows":
        rows(int(sys.argv[2]), t)
    elif cmd == "click":
        click(sys.argv[2])
    elif cmd == "error":
        error(sys.argv[2], t)
    elif cmd == "type":
        type_text(sys.argv[2], sys.argv[3])
    elif cmd == "switch":
        print(switch(sys.argv[2])[1])
    elif cmd == "toggle":
        n = switch(sys.argv[2])[0]
        n.queryAction().doAction(0)
        print("toggled %s" % sys.argv[2])
    else:
        sys.exit("unknown command " + cmd)


main()
