"""The local AWS stack: moto plus what the pipeline needs that moto lacks."""
