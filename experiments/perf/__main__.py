from experiments.perf.cli import main

main()
