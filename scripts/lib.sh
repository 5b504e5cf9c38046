# Shared by the test scripts (sourced, not run): installing Debian packages, as root or
# through sudo.

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# apt_install PACKAGE...: installs the packages from Debian's archive, non-interactively.
apt_install() {
    echo "installing $*"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@"
}
