SAMPLE_KWARGS = {"reports:index": lambda world: {}}
