from pufferd.cli import main

main()
