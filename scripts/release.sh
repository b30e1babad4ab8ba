#!/usr/bin/env bash
# Checks that the repository is ready for release vX.Y.Z and tags every
# Go module in it with that version. See docs/RELEASING.md.
#
#   scripts/release.sh v0.2.0            # check, and print the tags and commands (changes nothing)
#   scripts/release.sh v0.2.0 --create   # check, then create the annotated tags on HEAD
#   scripts/release.sh v0.2.0 --push     # check, create the tags if missing, and push them to origin
#
# Checks: the version is semantic (vMAJOR.MINOR.PATCH, optionally
# -prerelease); the Version constant in client.go is that version without
# the "v" (it is sent in the X-Inngest-SDK header); CHANGELOG.md has a
# "## [X.Y.Z] - YYYY-MM-DD" entry and a link for it; none of the tags
# exists yet. --create and --push also need a clean work tree.
#
# Every module gets the tag of its directory: the root module vX.Y.Z,
# a module in bench/ bench/vX.Y.Z, and so on for every go.mod git knows.
set -euo pipefail
cd "$(dirname "$0")/.."

die() {
	echo "release: $*" >&2
	exit 1
}

[ $# -ge 1 ] || die "usage: scripts/release.sh vX.Y.Z [--create | --push]"
tag=$1
action=${2:-print}
case "$action" in
print | --create | --push) ;;
*) die "unknown option $action (want --create or --push)" ;;
esac

semver='^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$'
[[ $tag =~ $semver ]] || die "$tag is not a semantic version tag such as v0.2.0"
version=${tag#v}
major=${BASH_REMATCH[1]}
if [ "$major" -ge 2 ] && ! grep -q "^module .*/v$major\$" go.mod; then
	die "$tag is major version $major: the module path in go.mod must end in /v$major first"
fi

code_version=$(sed -n 's/^const Version = "\(.*\)"$/\1/p' client.go)
[ -n "$code_version" ] || die "no 'const Version = \"...\"' line in client.go"
[ "$code_version" = "$version" ] ||
	die "client.go says Version = \"$code_version\", but the release is $version: set it to \"$version\" and commit"

esc=${version//./\\.}
grep -Eq "^## \[$esc\] - [0-9]{4}-[0-9]{2}-[0-9]{2}\$" CHANGELOG.md ||
	die "CHANGELOG.md has no '## [$version] - YYYY-MM-DD' entry: move the Unreleased notes under one"
grep -Eq "^\[$esc\]: " CHANGELOG.md ||
	die "CHANGELOG.md has no link for [$version] at its end"
grep -q '^## \[Unreleased\]$' CHANGELOG.md ||
	die "CHANGELOG.md has no '## [Unreleased]' section (keep one, empty, above the release)"

git rev-parse --git-dir >/dev/null 2>&1 || die "not in a git repository"
tags=()
while IFS= read -r mod; do
	dir=$(dirname "$mod")
	if [ "$dir" = . ]; then
		tags+=("$tag")
	else
		tags+=("$dir/$tag")
	fi
done < <(git ls-files -- 'go.mod' '*/go.mod' | sort)
[ ${#tags[@]} -gt 0 ] || die "git knows no go.mod"

missing=()
for t in "${tags[@]}"; do
	if git rev-parse -q --verify "refs/tags/$t" >/dev/null; then
		if [ "$action" != --push ]; then
			die "tag $t exists already"
		fi
		[ "$(git rev-list -n1 "$t")" = "$(git rev-parse HEAD)" ] || die "tag $t exists already, on another commit"
	else
		missing+=("$t")
	fi
done

echo "release $version at $(git rev-parse --short HEAD): Version, CHANGELOG.md and tags checked"
echo "tags: ${tags[*]}"

if [ "$action" = print ]; then
	echo "to tag and publish, run scripts/release.sh $tag --push, or:"
	for t in "${missing[@]}"; do
		echo "  git tag -a $t -m 'go-inngest $version'"
	done
	echo "  git push origin ${tags[*]}"
	exit 0
fi

[ -z "$(git status --porcelain)" ] || die "the work tree has uncommitted changes; commit or stash them first"

for t in "${missing[@]}"; do
	git tag -a "$t" -m "go-inngest $version"
	echo "created tag $t"
done

if [ "$action" = --push ]; then
	git push origin "${tags[@]}"
	echo "pushed ${tags[*]}"
else
	echo "not pushed; push with: git push origin ${tags[*]}"
fi
