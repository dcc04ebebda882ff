"""Lambda handler bodies: parse the trigger, call one service, shape the answer."""
