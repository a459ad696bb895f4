#!/usr/bin/env python3
"""CDK entry point: `python app.py` (or `npx aws-cdk@2 synth|deploy`) synthesizes into cdk.out."""

import sys

from stacks.enrollment_app import build_app


def main() -> None:
    try:
        app, _ = build_app()
    except (FileNotFoundError, ValueError) as error:  # the dependency layer is not built yet; a bad -c value
        sys.exit(f"error: {error}")
    app.synth()


if __name__ == "__main__":
    main()
