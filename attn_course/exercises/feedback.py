"""What every checker returns: a verdict that prints as one line and says what is wrong."""
from dataclasses import dataclass


@dataclass(frozen=True)
class Feedback:
    """Prints as "✔ message" or "✘ message"; truthy only when the answer is right, so
    `assert check_attention(my_attention)` works in a test too."""
    ok: bool
    message: str

    def __bool__(self):
        return self.ok

    def __repr__(self):
        return ("✔ " if self.ok else "✘ ") + self.message
