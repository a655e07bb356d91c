# Sourced by the Makefile before each uv command.  uv reads no pip
# configuration, so it is given the package sources pip is configured with
# here (pip's configuration files and PIP_* variables, as `pip config list`
# shows them) and pip's rule of taking the best version over all of them.
# Where pip has no such setting nothing is set, and uv uses the package index.
_pip_setting() {  # the values of one pip setting, space-separated, once each
    python3 -m pip config list 2>/dev/null | sed -n "s/^[^.]*\.$1='\(.*\)'\$/\1/p" |
        tr ' ' '\n' | sed '/^$/d' | sort -u | tr '\n' ' ' | sed 's/ $//'
}
_links=$(_pip_setting find-links)
_extra=$(_pip_setting extra-index-url)
_index=$(_pip_setting index-url)
if [ -n "$_links" ]; then export UV_FIND_LINKS="$(echo "$_links" | tr ' ' ',')"; fi
if [ -n "$_extra" ]; then export UV_EXTRA_INDEX_URL="$_extra"; fi
if [ -n "$_index" ]; then export UV_INDEX_URL="${_index%% *}"; fi
export UV_INDEX_STRATEGY=unsafe-best-match
unset _links _extra _index
