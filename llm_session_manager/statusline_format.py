"""What a statusline format may name: its fields and the default line. Apart from statusline.py so that
the configuration (read by every command) checks a format without importing the statusline."""

DEFAULT_FORMAT = "{model} | ctx {context} {compact} | {cost} | 5h {five_hour} | 7d {seven_day} | {health}"
FIELDS = ("model", "context", "compact", "cost", "five_hour", "seven_day", "health", "session", "dir")
