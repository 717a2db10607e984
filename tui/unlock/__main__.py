"""`python -m tui.unlock` prints the README's table of answers (`markdown_table`),
with the default settings, to paste into README.md when the policy changes."""

from tui.settings import UnlockSettings
from tui.unlock.policy import markdown_table

if __name__ == "__main__":  # the layer test imports every module
    print(markdown_table(UnlockSettings()))
