# The Debian package (make deb): cpack -G DEB in a build tree gives
# smtpsd_<version>_amd64.deb with the binary, the systemd unit, the
# maintainer scripts of packaging/deb/ and the documents lintian expects.
# Dependencies come from dpkg-shlibdeps, plus what the scripts call.

install(TARGETS smtpsd RUNTIME DESTINATION bin)
install(FILES packaging/smtpsd.service DESTINATION /lib/systemd/system)
set(SMTPSD_DOC_DIR share/doc/smtpsd)
# changelog.gz as Debian wants it: gzip -9n, so the package is reproducible.
add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/deb/changelog.gz
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/deb
  COMMAND gzip -9nc ${CMAKE_SOURCE_DIR}/packaging/deb/changelog > ${CMAKE_BINARY_DIR}/deb/changelog.gz
  DEPENDS ${CMAKE_SOURCE_DIR}/packaging/deb/changelog)
add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/deb/smtpsd.1.gz
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/deb
  COMMAND gzip -9nc ${CMAKE_SOURCE_DIR}/packaging/smtpsd.1 > ${CMAKE_BINARY_DIR}/deb/smtpsd.1.gz
  DEPENDS ${CMAKE_SOURCE_DIR}/packaging/smtpsd.1)
add_custom_target(smtpsd_deb_docs ALL DEPENDS ${CMAKE_BINARY_DIR}/deb/changelog.gz ${CMAKE_BINARY_DIR}/deb/smtpsd.1.gz)
install(FILES ${CMAKE_BINARY_DIR}/deb/smtpsd.1.gz DESTINATION share/man/man1)
install(FILES packaging/deb/copyright ${CMAKE_BINARY_DIR}/deb/changelog.gz DESTINATION ${SMTPSD_DOC_DIR})
install(FILES README.md DESTINATION ${SMTPSD_DOC_DIR})
install(DIRECTORY docs/ DESTINATION ${SMTPSD_DOC_DIR}/docs FILES_MATCHING PATTERN "*.md")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME smtpsd)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_CONTACT "smtpsd developers <maintainers@smtpsd.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "mail submission server and outbound relay")
# The extended description; CPack puts the summary above it.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "smtpsd takes mail from authenticated clients over implicit TLS (465, 2465)
 or STARTTLS (587, 2587, 2525), checks it against each account's identities
 and limits, signs it with DKIM, queues it durably and delivers it to the
 recipients' MX hosts with retries, bounces and a suppression list.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION mail)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, dns-root-data")  # the DNSSEC trust anchor DANE validates with
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${CMAKE_SOURCE_DIR}/packaging/deb/postinst ${CMAKE_SOURCE_DIR}/packaging/deb/prerm
  ${CMAKE_SOURCE_DIR}/packaging/deb/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_STRIP_FILES ON)
include(CPack)
