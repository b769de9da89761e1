SAMPLE_KWARGS = {"inbox:index": lambda world: {}}
