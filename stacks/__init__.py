"""CDK app of the speaker enrollment service: one construct per capability, one stack composing them."""
