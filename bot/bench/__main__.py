import sys

from bot.bench import main

sys.exit(main(sys.argv[1:]))
