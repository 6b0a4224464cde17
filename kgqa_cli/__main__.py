from kgqa_cli.cli.main import main

main()
