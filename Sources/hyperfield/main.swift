import CommandLineKit

// The command registry: one entry per command, each defined in its own file.
let program = CommandLineProgram(
    name: "hyperfield",
    summary: "personalize a compact latent diffusion model from a few photographs with a hypernetwork field",
    commands: [
        DemoCommand(),
        DreamBoothCommand(),
        EvaluateAutoencoderCommand(),
        EvaluateDenoiserCommand(),
        ExperimentCommand(),
        ExportCommand(),
        ImportCommand(),
        InspectCommand(),
        MetricsCommand(),
        PersonalizeCommand(),
        SampleCommand(),
        TrainAutoencoderCommand(),
        TrainDenoiserCommand(),
        TrainFeaturesCommand(),
        TrainFieldCommand(),
        TrainRegressionCommand(),
        TrajectoryCommand(),
        ValidateFeaturesCommand(),
        VersionCommand(),
    ])

program.run()
