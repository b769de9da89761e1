SAMPLE_KWARGS = {"crm:contacts": lambda world: {}}
