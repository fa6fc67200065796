"""(commands are added here)"""

COMMANDS: list = []
