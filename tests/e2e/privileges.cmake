# Least privilege: every command as nobody under setpriv with exactly the
# capabilities docs/privileges.md lists for it, then with each dropped: the
# full result with them, the missing one named without (bats, in its own
# network namespace; leaking servers of root and of nobody side by side).
cw_e2e_test(e2e_privileges SCRIPT e2e/privileges.bats TIMEOUT 120)
