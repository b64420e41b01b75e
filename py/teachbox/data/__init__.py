"""The data a person brings: classes, labels CSV, splits, image headers, preprocessing geometry, projects' samples, and reading image sources into model inputs."""
