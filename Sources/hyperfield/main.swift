print("hyperfield: no commands yet")
