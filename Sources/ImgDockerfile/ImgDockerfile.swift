// ImgDockerfile: Dockerfile text to values, with nothing else: the parser, typed instructions, stages and the
// build plan, shell-word expansion, `.dockerignore` patterns and lint checks.
