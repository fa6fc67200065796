from lain_cli.main import main

main()
