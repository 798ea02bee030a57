import ArgumentParser
struct DemoCommand: ParsableCommand { func run() throws {} }
