"""What envdoctor keeps inside an environment it changes (`<env>/.envdoctor/`), read by every command.

guard.py    the per-environment lock each command that changes an environment holds (wait, or refuse)
journal.py  the journal of a fix under way; an unfinished fix, as check, plan, stub and fix report it
"""
